"""The organization's SMS account; /sms-provider."""
