"""Ask the office: questions the FAQ cannot answer go to people in the staff chats, and their
answers come back through the outbox."""
