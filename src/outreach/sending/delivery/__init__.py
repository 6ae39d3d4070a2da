"""The send loop: claims due batches from the outbox, sends them through transports, records
the results and their events."""
