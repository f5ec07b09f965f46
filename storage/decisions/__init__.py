"""The data of group decisions: decisions, ballots, nudges."""
