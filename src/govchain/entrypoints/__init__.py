"""The ways in: the command line (`cli`) and the HTTP service (`http`: the API and the pages).
They parse input, call the service layer and render its answers; nothing imports them."""
