"""The send pipeline, one sub-package per stage: senders and sms_provider (where mail and
SMS go out from), planner (who is due for what), outbox (the queue), delivery (the send loop),
transports (how a message goes out). secrets.py encrypts their credentials at rest."""
