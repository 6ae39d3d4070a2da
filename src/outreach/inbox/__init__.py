"""The inbox: the replies read from the senders' mailboxes across campaigns, and the answers sent
from it; the one writer of inbox_messages."""
