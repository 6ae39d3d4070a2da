"""The inbox: contacts' replies across campaigns, read and answered in their thread."""
