"""The PV table: its model, widget, filter, editor delegate, tabs and snapshot dialogs."""
