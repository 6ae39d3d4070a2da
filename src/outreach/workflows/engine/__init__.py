"""The workflow engine: it walks each enrolled contact through its version's graph."""
