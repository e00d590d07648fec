"""What both services share and neither owns: the clock, instants, the error tree and its
problem+json mapping. Nothing here knows about channels, plans or playlists."""
