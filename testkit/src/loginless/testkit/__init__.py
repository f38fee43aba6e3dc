"""Test infrastructure as a package of its own, so no runtime package ships it: endpoints of real services, fakes,
a sample aggregate, waiting and browser helpers, and the pytest plugin (:mod:`loginless.testkit.plugin`)."""
