"""The web app: `bball serve` runs `create_app()` (app.py) with uvicorn; api.py and cloud_api.py are its JSON
API, static/ its pages (plain HTML, CSS and JavaScript: no build step, nothing loaded from the internet)."""
