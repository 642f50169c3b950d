"""The example shop: views showing the middleware, direct detection and a background task."""
