"""The ganzoo.networks package itself: what it exports and the names that moved out."""

import pytest


@pytest.mark.parametrize("name", ["build_generator", "build_discriminator"])
def test_config_builders_moved_to_ganzoo_builders_and_the_old_names_warn(name):
    """``ganzoo.networks.build_generator`` / ``build_discriminator`` (config -> network) live in
    ganzoo.builders now; the old names still give the same function, with a DeprecationWarning."""
    import ganzoo.builders
    import ganzoo.networks

    with pytest.warns(DeprecationWarning, match=f"ganzoo.builders.{name}"):
        old = getattr(ganzoo.networks, name)
    assert old is getattr(ganzoo.builders, name)
    with pytest.raises(AttributeError, match="no attribute 'build_nothing'"):
        ganzoo.networks.build_nothing  # noqa: B018
