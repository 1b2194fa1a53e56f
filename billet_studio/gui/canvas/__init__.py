"""The labelling canvas: shape items, tools, and the view that routes input to them."""
