"""Test helpers: service URLs, fixtures and factories shared by every test package."""
