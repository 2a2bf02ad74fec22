"""Imports from other comment systems: WordPress (WXR), Disqus, Isso."""
