"""`templater lint`: the rule catalogue and JSON Schemas run over an evaluated template, ignore
comments, the parse and result caches, and the text, JSON, SARIF and GitHub reporters."""
