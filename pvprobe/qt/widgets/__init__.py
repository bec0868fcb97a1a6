"""Small shared widgets (flow layout)."""
