"""The data of calls to action: actions, RSVPs, broadcasts."""
