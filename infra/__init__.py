"""What template.yaml does not hold: reading it, and creating its resources in an emulator."""
