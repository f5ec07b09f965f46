"""The data of people: volunteers, their preferences, what /mydata exports and /forget erases."""
