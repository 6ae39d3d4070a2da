"""How a message goes out: a Transport per channel (email over SMTP, SMS), system mail."""
