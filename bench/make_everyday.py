"""Write the "everyday documents" evaluation corpus (PDF, DOCX, HTML, Markdown) from its plain sources.

    python bench/make_everyday.py OUT_DIR [--set everyday|everyday2|everyday3|everyday4]

--set chooses the set (default everyday, the first). The twelve sources of the first set live in
tests/data/everyday/src/*.txt, in the markup that bench/make_mixed.py documents (# Title,
## Section, - bullets, 1. numbered, | tables |, ---page--- for PDF page breaks).
They are the kinds of file ordinary people upload: an employer's expenses memo, a school budget
report, a bike-share FAQ, a council's bulky-waste page, a thermostat manual, HOA minutes, a
tenancy guide, a pool's rules page, a transit fares page, a school trip letter, a GP practice
leaflet and a washing-machine warranty. The labeled questions are in tests/data/everyday.jsonl;
check the written files against them with

    python bench/check_everyday.py OUT_DIR

This script maps each source to its output format itself (the DOCS table below) and writes it
with make_mixed's writers: write_pdf (reportlab), write_docx (python-docx), write_html (site
chrome around an <article>); Markdown is a verbatim copy of the source. SPLIT says which half of
the evaluation each document belongs to: questions on "tune" documents may be used to tune the
bot, questions on "report" documents only to report figures.

The second set (--set everyday2; DOCS2, SPLIT2) is eight more sources in
tests/data/everyday2/src/*.txt, in kinds the first set lacks: a gym's membership terms and a public
library's borrowing page (HTML), a car insurance policy summary and a council's parking-permit
guidance notes (multi-page PDF), a dentist's FAQ and a broadband provider's moving-home guide
(Markdown), a nursery's parent handbook and a small company's annual leave policy (DOCX). Its
questions are in tests/data/everyday2.jsonl; every document is in the "report" split (the set is
written blind and used only to report figures). Check with

    python bench/check_everyday.py OUT_DIR --set everyday2

The third set (--set everyday3; DOCS3, SPLIT3) is eight more sources in
tests/data/everyday3/src/*.txt, again in kinds the first two sets lack: a student residence's
licence agreement in brief and a community centre's room-hire terms (DOCX), a car rental
agreement's key terms and a hay fever medicine's patient information leaflet (multi-page PDF), a
hotel's guest information page and a council's household bin collection guide (HTML), a vet
clinic's new-client page and an air fryer's quick-start guide (Markdown). Its questions are in
tests/data/everyday3.jsonl; it too is written blind and every document is in the "report" split.
Check with

    python bench/check_everyday.py OUT_DIR --set everyday3

The fourth set (--set everyday4; DOCS4, SPLIT4) is eight more sources in
tests/data/everyday4/src/*.txt, in kinds none of the first three sets has: a town council's
allotment tenancy rules and a coworking space's membership terms (DOCX), a mobile phone
contract's summary and key facts and a removals company's quotation terms (multi-page PDF), an
electric car charging network's pricing FAQ and a farm campsite's site rules (HTML), a dog-grooming
salon's booking terms and a secondary school's uniform and school meals policy (Markdown). Its
questions are in tests/data/everyday4.jsonl; it too is written blind and every document is in the
"report" split. Check with

    python bench/check_everyday.py OUT_DIR --set everyday4

Output is deterministic (same bytes on every run). Needs `reportlab` and `python-docx`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_mixed import PAGE_BREAK, Doc, parse, write_docx, write_html, write_pdf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "tests" / "data" / "everyday" / "src"
SRC2 = ROOT / "tests" / "data" / "everyday2" / "src"
SRC3 = ROOT / "tests" / "data" / "everyday3" / "src"
SRC4 = ROOT / "tests" / "data" / "everyday4" / "src"


def _site(name, section, nav, related, copyright, footer_links):
    return {"name": name, "section": section, "nav": nav, "related": related,
            "copyright": copyright, "footer_links": footer_links}


DOCS = [
    # ---- tune half
    Doc("expenses-policy.txt", "expenses-policy.docx",
        "Travel and Expenses Policy 2025 (memo to all staff)", "Marguerite Osei"),
    Doc("school-trip-letter.txt", "school-trip-letter.docx",
        "Letter to parents - Year 5 Whinmoor residential 2025", "Oakfield Primary School"),
    Doc("thermostat-manual.txt", "thermostat-manual.pdf",
        "Haverly T3 Smart Thermostat - User Manual (rev. B)", "Haverly Controls Inc."),
    Doc("bikeshare-faq.txt", "bikeshare-faq.md", "Riverton Wheels FAQ"),
    Doc("pool-rules.txt", "pool-rules.html", "Millbrook Community Pool | Swimming | Millbrook Leisure Trust",
        site=_site(
            "Millbrook Leisure Trust", "swimming",
            [("/", "Home"), ("/swimming/", "Swimming"), ("/gym/", "Gym and Classes"),
             ("/kids/", "Kids' Activities"), ("/memberships/", "Memberships"), ("/contact/", "Contact Us")],
            [("/swimming/lessons/", "Learn to Swim: Stages 1 to 7 Explained"),
             ("/gym/inductions/", "Book a Free Gym Induction"),
             ("/kids/holiday-camps/", "Holiday Sports Camps"),
             ("/news/new-changing-village/", "Our New Changing Village Is Open")],
            "2025 Millbrook Leisure Trust, a registered charity running sport and leisure for the community.",
            [("/privacy/", "Privacy Notice"), ("/accessibility/", "Accessibility Statement"),
             ("/careers/", "Work for Us"), ("/terms/", "Terms and Conditions")])),
    Doc("transit-fares.txt", "transit-fares.html", "Fares & Passes - Lakeport Regional Transit",
        site=_site(
            "Lakeport Regional Transit", "riding",
            [("/", "Home"), ("/schedules/", "Schedules and Maps"), ("/riding/", "Riding LRT"),
             ("/riding/fares/", "Fares"), ("/alerts/", "Service Alerts"), ("/about/", "About LRT")],
            [("/riding/trip-planner/", "Plan Your Trip"),
             ("/riding/accessibility/", "Accessible Service and Paratransit"),
             ("/alerts/detours/", "Current Detours and Stop Closures"),
             ("/about/board/", "Board Meetings and Public Comment")],
            "2025 Lakeport Regional Transit Authority. Schedules are subject to change.",
            [("/privacy/", "Privacy Policy"), ("/title-vi/", "Title VI"),
             ("/jobs/", "Careers"), ("/contact/", "Contact LRT")])),
    # ---- report half
    Doc("hoa-minutes.txt", "hoa-minutes.docx",
        "WBHOA board minutes 2025-09-16 (approved)", "Dana Whitfield"),
    Doc("budget-report.txt", "budget-report.pdf",
        "Proposed Budget 2025-26 - Ashby Falls School District", "Ashby Falls School District"),
    Doc("clinic-leaflet.txt", "clinic-leaflet.pdf",
        "Brookside Medical Practice - Practice Leaflet 2025", "Brookside Medical Practice, Elmford"),
    Doc("bulky-waste.txt", "bulky-waste.html", "Bulky waste collections | Bins and recycling | Kestrel Vale Council",
        site=_site(
            "Kestrel Vale District Council", "bins",
            [("/", "Home"), ("/bins/", "Bins and Recycling"), ("/council-tax/", "Council Tax"),
             ("/housing/", "Housing"), ("/planning/", "Planning"), ("/parking/", "Parking and Roads")],
            [("/bins/collection-days/", "Find Your Bin Collection Day"),
             ("/bins/garden-waste/", "Subscribe to Garden Waste Collections"),
             ("/bins/missed-bin/", "Report a Missed Bin"),
             ("/environment/report-fly-tipping/", "Report Fly-Tipping")],
            "2025 Kestrel Vale District Council, Council Offices, Market Square, Kestrel Vale.",
            [("/accessibility/", "Accessibility"), ("/privacy/", "Privacy and Cookies"),
             ("/contact/", "Contact the Council"), ("/jobs/", "Jobs")])),
    Doc("tenancy-guide.txt", "tenancy-guide.md", "Harbourside Lettings tenant guide"),
    Doc("washer-warranty.txt", "washer-warranty.md", "Corvell washer warranty"),
]

SPLIT = {d.out: "tune" for d in DOCS[:6]} | {d.out: "report" for d in DOCS[6:]}

DOCS2 = [
    Doc("nursery-handbook.txt", "nursery-handbook.docx",
        "Parent Handbook 2025-26 (Little Acorns)", "Priya Natarajan"),
    Doc("leave-policy.txt", "leave-policy.docx",
        "Holiday and Annual Leave Policy (effective 1 January 2025)", "Gareth Lowe"),
    Doc("car-insurance.txt", "car-insurance.pdf",
        "Policy Summary - Hartwell Direct Comprehensive Car Insurance", "Hartwell Direct Insurance Services"),
    Doc("parking-permits.txt", "parking-permits.pdf",
        "Residents' Parking Permits - Guidance Notes - Thornbury Borough Council", "Thornbury Borough Council"),
    Doc("gym-terms.txt", "gym-terms.html", "Membership Terms | Ironbridge Fitness Dunmore and Castlegate",
        site=_site(
            "Ironbridge Fitness", "memberships",
            [("/", "Home"), ("/memberships/", "Memberships"), ("/classes/", "Classes"),
             ("/timetable/", "Timetable"), ("/personal-training/", "Personal Training"), ("/join/", "Join Now")],
            [("/clubs/dunmore/", "Dunmore Club: Tour the New Free-Weights Zone"),
             ("/classes/beginners/", "Five Classes for Absolute Beginners"),
             ("/personal-training/packages/", "Personal Training Packages"),
             ("/app/", "Download the Ironbridge App")],
            "2025 Ironbridge Fitness Ltd. Registered in England and Wales.",
            [("/privacy/", "Privacy Policy"), ("/cookies/", "Cookie Policy"),
             ("/careers/", "Careers"), ("/contact/", "Get in Touch")])),
    Doc("library-borrowing.txt", "library-borrowing.html",
        "Borrowing | Using the Library | Maple Hollow Public Library",
        site=_site(
            "Maple Hollow Public Library", "using",
            [("/", "Home"), ("/catalog/", "Catalog"), ("/using/", "Using the Library"),
             ("/events/", "Events"), ("/kids/", "Kids and Teens"), ("/locations/", "Locations and Hours")],
            [("/using/ebooks/", "eBooks and eAudiobooks on Your Phone"),
             ("/events/summer-reading/", "Summer Reading Challenge"),
             ("/using/meeting-rooms/", "Reserve a Meeting Room"),
             ("/using/printing/", "Printing, Copying and Scanning")],
            "2025 Maple Hollow Public Library. Supported by the Friends of the Library.",
            [("/privacy/", "Privacy Policy"), ("/accessibility/", "Accessibility"),
             ("/jobs/", "Jobs and Volunteering"), ("/contact/", "Contact Us")])),
    Doc("dentist-faq.txt", "dentist-faq.md", "Willowbank Dental FAQ"),
    Doc("broadband-moving.txt", "broadband-moving.md", "Skylark Broadband home move guide"),
]

SPLIT2 = {d.out: "report" for d in DOCS2}

DOCS3 = [
    Doc("student-licence.txt", "student-licence.docx",
        "Riverside Court licence summary 2025-26 (Calder Student Living)", "Calder Student Living Ltd"),
    Doc("hall-hire.txt", "hall-hire.docx",
        "Conditions of Hire - Brackwell Community Centre (revised April 2025)", "Sandra Okafor"),
    Doc("car-rental.txt", "car-rental.pdf",
        "Rental Agreement Key Terms - Brisk Car Rental (UK)", "Brisk Vehicle Hire Ltd"),
    Doc("hayfever-leaflet.txt", "hayfever-leaflet.pdf",
        "Pollenex Allergy Relief 10 mg Tablets - Patient Information Leaflet", "Aldenmoor Healthcare Ltd"),
    Doc("hotel-guide.txt", "hotel-guide.html", "Guest Information | Stay With Us | The Marram Hotel, Saltcombe Bay",
        site=_site(
            "The Marram Hotel", "stay",
            [("/", "Home"), ("/rooms/", "Rooms and Suites"), ("/dining/", "Tideline Restaurant"),
             ("/stay/", "Plan Your Stay"), ("/offers/", "Special Offers"), ("/book/", "Book Now")],
            [("/offers/winter-breaks/", "Winter Breaks by the Sea"),
             ("/dining/sunday-lunch/", "Sunday Lunch in the Tideline"),
             ("/weddings/", "Seaside Weddings and Celebrations"),
             ("/explore/coastal-walks/", "Three Coastal Walks from Our Door")],
            "2025 The Marram Hotel Ltd, The Esplanade, Saltcombe Bay.",
            [("/privacy/", "Privacy Policy"), ("/accessibility/", "Accessibility"),
             ("/gift-vouchers/", "Gift Vouchers"), ("/contact/", "Contact Us")])),
    Doc("recycling-guide.txt", "recycling-guide.html",
        "Bin collections: what goes in which bin | Wrenfield District Council",
        site=_site(
            "Wrenfield District Council", "waste",
            [("/", "Home"), ("/waste/", "Bins, Recycling and Waste"), ("/council-tax/", "Council Tax"),
             ("/benefits/", "Benefits"), ("/roads/", "Roads and Transport"), ("/contact/", "Contact Us")],
            [("/waste/collection-day/", "Check Your Collection Day"),
             ("/waste/brown-bin/", "Sign Up for Brown Bin Collections"),
             ("/waste/recycling-centres/", "Recycling Centres: Opening Times"),
             ("/waste/bulky-items/", "Book a Bulky Item Collection")],
            "2025 Wrenfield District Council, Civic Centre, Wrenfield.",
            [("/accessibility/", "Accessibility"), ("/privacy/", "Privacy Notices"),
             ("/jobs/", "Jobs and Careers"), ("/complaints/", "Comments and Complaints")])),
    Doc("vet-new-clients.txt", "vet-new-clients.md", "Cedar Lane Animal Hospital new clients"),
    Doc("airfryer-quickstart.txt", "airfryer-quickstart.md", "Tovera DuoCrisp AF90 quick start"),
]

SPLIT3 = {d.out: "report" for d in DOCS3}

DOCS4 = [
    Doc("allotment-rules.txt", "allotment-rules.docx",
        "Allotment Tenancy Rules (Harrowdene Town Council, October 2025)", "Janet Pryce"),
    Doc("coworking-terms.txt", "coworking-terms.docx",
        "The Loom Works - Membership Terms v4", "Priti Deshmukh"),
    Doc("phone-contract.txt", "phone-contract.pdf",
        "Contract Summary - Pebble 30GB Essentials with Corvia A7", "Pebble Mobile Ltd"),
    Doc("removals-terms.txt", "removals-terms.pdf",
        "Quotation Terms and Conditions - Holloway and Finch Removals", "Holloway & Finch Removals Ltd"),
    Doc("ev-charging.txt", "ev-charging.html", "Pricing FAQ | Help Centre | VoltRoute EV Charging",
        site=_site(
            "VoltRoute", "help",
            [("/", "Home"), ("/map/", "Find a Charger"), ("/plus/", "VoltRoute Plus"),
             ("/business/", "For Business"), ("/help/", "Help Centre"), ("/app/", "Get the App")],
            [("/help/first-charge/", "Your First Public Charge, Step by Step"),
             ("/help/connectors/", "Which Connector Does My Car Use?"),
             ("/news/new-hubs/", "Six New Charging Hubs Open This Spring"),
             ("/business/fleet/", "Charging for Fleets and Company Cars")],
            "2025 VoltRoute Charging Ltd. Registered in England and Wales.",
            [("/privacy/", "Privacy Notice"), ("/cookies/", "Cookie Settings"),
             ("/terms/", "Terms of Use"), ("/contact/", "Contact Us")])),
    Doc("campsite-rules.txt", "campsite-rules.html",
        "Site Rules | Your Stay | Heatherbrook Farm Camping, Tarnsdale",
        site=_site(
            "Heatherbrook Farm Camping", "stay",
            [("/", "Home"), ("/pitches/", "Pitches"), ("/stay/", "Your Stay"),
             ("/explore/", "Explore Tarnsdale"), ("/shop/", "Farm Shop"), ("/book/", "Book a Pitch")],
            [("/explore/walks/", "Walks Straight From the Campsite"),
             ("/pitches/hook-up/", "Choosing an Electric Pitch"),
             ("/farm/lambing/", "Lambing Time on the Farm"),
             ("/explore/rainy-days/", "Ideas for Rainy Days in the Valley")],
            "2025 Heatherbrook Farm, Tarnsdale. A family farm since 1962.",
            [("/privacy/", "Privacy"), ("/accessibility/", "Accessibility"),
             ("/gift-vouchers/", "Gift Vouchers"), ("/contact/", "Contact")])),
    Doc("dog-grooming.txt", "dog-grooming.md", "Scruffs & Suds booking terms"),
    Doc("school-uniform.txt", "school-uniform.md", "Thornleigh Academy uniform and meals policy"),
]

SPLIT4 = {d.out: "report" for d in DOCS4}

SETS = {"everyday": (DOCS, SPLIT, SRC), "everyday2": (DOCS2, SPLIT2, SRC2), "everyday3": (DOCS3, SPLIT3, SRC3),
        "everyday4": (DOCS4, SPLIT4, SRC4)}


def write(doc: Doc, path: Path, src: Path = SRC) -> str:
    raw = (src / doc.source).read_text(encoding="utf-8")
    blocks = parse(raw)
    kind = path.suffix[1:]
    if kind == "pdf":
        return f", {write_pdf(doc, blocks, path)} pages"
    if kind == "docx":
        write_docx(doc, blocks, path)
    elif kind == "html":
        write_html(doc, blocks, path)
    elif kind == "md":
        path.write_text(raw, encoding="utf-8")
    else:
        raise SystemExit(f"{doc.out}: no writer for .{kind}")
    return ""


def main(argv: list[str]) -> int:
    name = "everyday"
    if len(argv) == 3 and argv[1] == "--set":
        argv, name = argv[:1], argv[2]
    if len(argv) != 1 or name not in SETS:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    docs, split, src = SETS[name]
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        path = out / doc.out
        note = write(doc, path, src)
        raw = (src / doc.source).read_text(encoding="utf-8")
        words = len(raw.replace(PAGE_BREAK, " ").split())
        print(f"wrote {path} ({path.suffix[1:]}, {words} source words, {path.stat().st_size} bytes{note}, "
              f"{split[doc.out]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
