def save_new_token(token):
    """Give an unsaved Token its key and store it; returns the key, which is not stored: show it
    once."""
    key = token.set_new_key()
    token.save()
    return key
