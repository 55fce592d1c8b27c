"""Announcements: the model and its validation, dates, reminder offsets, rendering, the service."""
