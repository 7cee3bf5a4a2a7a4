"""Answering asks: reading the command text, finding flows by name and delivering previews."""
