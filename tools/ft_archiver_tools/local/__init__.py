"""Local stand-ins for the outside world: the Together simulator and an AWS emulator."""
