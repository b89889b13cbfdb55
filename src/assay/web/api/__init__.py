"""JSON API routers; each module is one area, each route one service call."""
