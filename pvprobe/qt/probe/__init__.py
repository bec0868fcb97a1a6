"""The probe panel: one PV in detail, its put editor and its record fields."""
