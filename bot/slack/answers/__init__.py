"""Answering asks: finding flows by name and delivering previews, in the ack or through
response_url."""
