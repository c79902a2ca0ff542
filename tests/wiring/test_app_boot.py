def test_extension_registered(app, stats_dashboard):
    assert stats_dashboard.enabled is True
