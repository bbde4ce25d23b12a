"""The web viewer: projects, a paged grid of data units with their labels drawn, a unit's page.

Plain HTML, CSS and JavaScript (``static/``) served by FastAPI, no build step. The routes
(:mod:`labelport.viewer.routes`) call only the client API; :mod:`labelport.viewer.draw` turns label
rows into marks, drawn by the browser as SVG and by Pillow for thumbnails and ``labelport render``;
:mod:`labelport.viewer.media` serves images from the allowed media roots only.

``labelport view`` runs it over the embedded store (:mod:`labelport.viewer.local`); the team server
mounts the same routes under ``/ui/`` behind browser sessions (:mod:`labelport.server.sessions`).
"""
