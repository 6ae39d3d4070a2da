"""Sequences: every campaign is a graph of steps (graph/) published as versions (versions/),
which each enrolled contact walks (enrollments/, engine/), with splits and winners (splits/) and
actions (actions/)."""
