"""The support page: three tiers with presets, preselection, attribution, no JavaScript needed."""

import re

from flask.testing import FlaskClient


def test_root_redirects_to_support_keeping_the_query(client: FlaskClient) -> None:
    response = client.get("/?source=newsletter")
    assert response.status_code == 302
    assert response.location == "/support?source=newsletter"


def test_page_shows_three_tiers_and_monthly_presets_by_default(client: FlaskClient) -> None:
    page = client.get("/support").get_data(as_text=True)
    for label in ("Once", "Monthly", "Annual"):
        assert f">{label}</a>" in page
    assert re.search(r'aria-current="page">Monthly<', page)
    for preset in ("<span>$2 a month<", "<span>$5 a month<", "<span>$10 a month<"):
        assert preset in page
    assert "from just $2." in page
    assert 'name="csrf_token"' in page
    assert '<form method="post" action="/support/checkout"' in page


def test_query_preselects_frequency_amount_currency(client: FlaskClient) -> None:
    page = client.get("/support?frequency=annual&amount=50&currency=eur").get_data(as_text=True)
    assert re.search(r'aria-current="page">Annual<', page)
    assert re.search(r'value="50"\s+checked', page)
    assert 'name="currency" value="EUR"' in page
    assert "<span>€25 a year<" in page and "<span>€100 a year<" in page


def test_amount_outside_presets_fills_the_custom_field(client: FlaskClient) -> None:
    page = client.get("/support?frequency=once&amount=12.5").get_data(as_text=True)
    assert re.search(r'id="custom_amount"[^>]*value="12.50"', page)


def test_unknown_query_values_fall_back_quietly(client: FlaskClient) -> None:
    response = client.get("/support?frequency=weekly&currency=XYZ&amount=lots")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'aria-current="page">Monthly<', page)
    assert 'name="currency" value="USD"' in page


def test_attribution_is_carried_into_the_form_and_tabs(client: FlaskClient) -> None:
    page = client.get(
        "/support?source=https%3A%2F%2Fnews.example%2Fa%2F1&utm_source=site&utm_medium=footer"
        "&utm_campaign=winter&utm_content=v2"
    ).get_data(as_text=True)
    assert 'name="source" value="https://news.example/a/1"' in page
    for name, value in [
        ("utm_source", "site"),
        ("utm_medium", "footer"),
        ("utm_campaign", "winter"),
        ("utm_content", "v2"),
    ]:
        assert f'name="{name}" value="{value}"' in page
    annual_tab = re.search(r'href="(/support\?frequency=annual[^"]*)"', page)
    assert annual_tab and "utm_campaign=winter" in annual_tab.group(1)


def test_article_footer_can_post_without_a_token_and_nothing_is_stored(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/support", data={"frequency": "once", "amount": "25", "source": "https://news.example/a/2"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'aria-current="page">Once<', page)
    assert re.search(r'value="25"\s+checked', page)
    assert 'name="source" value="https://news.example/a/2"' in page


def test_every_input_has_a_label(client: FlaskClient) -> None:
    page = client.get("/support").get_data(as_text=True)
    visible = [tag for tag in re.findall(r"<input [^>]*>", page) if 'type="hidden"' not in tag]
    assert len(visible) >= 5  # three presets, the custom amount, the email
    for tag in visible:
        input_id = re.search(r'id="([^"]+)"', tag)
        if input_id:
            assert f'for="{input_id.group(1)}"' in page, tag
        else:  # a preset radio: labelled by the <label> that wraps it
            assert re.search(r"<label>" + re.escape(tag), page), tag
    assert 'for="currency-select"' in page
    # Presets are radio buttons wrapped in their label, so keyboard and screen readers work.
    assert re.search(r'<label><input type="radio" name="amount"', page)


def test_currency_can_be_changed_without_javascript(client: FlaskClient) -> None:
    page = client.get("/support?frequency=annual").get_data(as_text=True)
    form = re.search(r'<form method="get" action="/support".*?</form>', page, re.S)
    assert form is not None
    assert '<select id="currency-select" name="currency">' in form.group(0)
    assert 'name="frequency" value="annual"' in form.group(0)
    assert '<button type="submit"' in form.group(0)


def test_each_reader_gets_their_own_token_on_the_same_page(app) -> None:
    first, second = app.test_client(), app.test_client()
    page_one = first.get("/support?frequency=once&source=a").get_data(as_text=True)
    page_two = second.get("/support?frequency=once&source=a").get_data(as_text=True)
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    assert token.search(page_one).group(1) != token.search(page_two).group(1)
    assert token.sub("", page_one) == token.sub("", page_two)
    other = first.get("/support?frequency=once&source=b").get_data(as_text=True)
    assert 'name="source" value="b"' in other and 'name="source" value="a"' not in other


def test_no_query_parameter_can_receive_the_csrf_token(client: FlaskClient) -> None:
    page = client.get("/support?source=%3Ccsrf-token%3E&utm_source=csrf-token")
    text = page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text).group(1)
    assert text.count(token) == 1
    assert 'name="source" value="&lt;csrf-token&gt;"' in text
    # NUL characters, which could have spelt the placeholder some other way, never get in.
    assert client.get("/support?utm_source=%00csrf-token%00").status_code == 400


def test_undecodable_query_string_is_a_400(app) -> None:
    client = app.test_client()
    for path in ("/support", "/"):
        response = client.get(path, environ_overrides={"QUERY_STRING": "source=\xff"})
        assert response.status_code in (302, 400), path
        assert response.status_code != 500
