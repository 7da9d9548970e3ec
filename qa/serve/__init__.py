"""Serve: the faces people use.

``chat`` is the Gradio web chat and its API endpoints (``render`` draws an answer and its cards, ``holder``
loads the bot while the page is already up); ``server`` serves it, and stops it within seconds when told;
``sessions`` keeps each visitor's uploads private and
bounded; ``cli`` is the ``qa`` command. Gradio is imported only here, so ``import qa`` stays light.
"""
