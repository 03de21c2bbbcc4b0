"""The account console (seed §3 and §5): the pages a team's members sign in to.

    routes.py     the Chalice blueprint, one line per route (the only module here that knows Chalice)
    visit.py      a page visit as plain values, the answer, cookies, the session and CSRF checks
    signin.py     sign-in (emailed link, OpenID Connect) and sign-out
    queue.py      the requests queue, ▷ execute and its confirmation
    request.py    a request's page and what an officer does there
    team.py       settings, members, connected systems, the request log (CSV)

The pages call the same domain functions as the JSON API (chalicelib/api/admin.py), with the same rules;
templates live in templates/console/.
"""
