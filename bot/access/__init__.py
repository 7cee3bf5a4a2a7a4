"""Who may preview which space's flows: the rules, where they are kept, and the decision.

`policy.decide` is pure; `rules.RuleBook` keeps the rules in the database and a copy of them in
memory, so that deciding costs no query.
"""
