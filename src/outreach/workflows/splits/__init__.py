"""Split nodes: which variant each contact takes, each variant's results and significance, and
the winners, declared by hand or by the winner job."""
