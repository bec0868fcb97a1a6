"""Plots: waveform plot, strip chart, sparkline and what they share."""
