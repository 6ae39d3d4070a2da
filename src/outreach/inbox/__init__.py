"""The inbox: the replies read from the senders' mailboxes across campaigns, read and answered
in their thread; the one writer of inbox_messages."""
