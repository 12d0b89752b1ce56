"""templater: lint, inspect and provision Coder-style workspace app templates."""
