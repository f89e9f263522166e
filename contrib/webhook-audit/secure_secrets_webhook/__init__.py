"""A secure-secrets audit sink shipping each event off the machine by HTTP POST."""
