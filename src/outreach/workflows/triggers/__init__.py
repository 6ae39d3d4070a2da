"""What enrolls contacts besides the API and the planner: a tag added, a score crossing a
threshold, a signed webhook URL, a schedule (the campaign's trigger node says which)."""
