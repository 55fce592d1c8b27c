"""Reminders: pure building blocks (offsets, wording, recurrence, the 1.5% season, quiet hours, .ics).

Nothing here touches the database, the scheduler or a chat platform: the announcements feature
computes *when* and *what* with these functions and stores the result. Every instant that goes in
or out is a timezone-aware datetime; results are in UTC unless a docstring says otherwise.
"""
