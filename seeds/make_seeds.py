#!/usr/bin/env python3
"""Generate the AMW Digest seed data set (articles.jsonl, subscribers.csv).

Standard library only and deterministic: running it twice writes identical files.
All articles are fictional, hand-written samples of AI-market news set between
2026-09-14 and 2026-11-22 (UTC). Run from anywhere:

    python seeds/make_seeds.py

Article material is grouped into *stories* (threads of 2-5 articles following one
development over days or weeks); articles of one story link to each other through
``related``. Stand-alone articles without a fixed day are spread over the least
covered days of the ten-week window.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_URL = "https://amw.example/news/"
START = dt.datetime(2026, 9, 14, tzinfo=dt.timezone.utc)  # a Monday; day 0
DAYS = 70  # ten weeks, through 2026-11-22

SEG = {
    "fm-rel": "Foundation Models · Releases",
    "fm-case": "Foundation Models · Case Studies",
    "fm-deb": "Foundation Models · Open Debates",
    "fm-safe": "Foundation Models · Safety",
    "cp-chip": "Compute · Chips",
    "cp-dc": "Compute · Data Centers",
    "cp-cloud": "Compute · Cloud Deals",
    "data": "Data & IP",
    "pol-reg": "Policy · Regulation",
    "pol-lit": "Policy · Litigation",
    "pol-trade": "Policy · Export Controls",
    "ent-adopt": "Enterprise · Adoption",
    "ent-deal": "Enterprise · Deals",
    "cap-fund": "Capital · Funding",
    "cap-ma": "Capital · M&A",
    "cap-ipo": "Capital · Public Markets",
}
CATEGORIES = {"Technology", "Business", "Policy", "Research"}
REGIONS = {"US", "EU", "KR", "CN", "JP", "UK", "Global", "IN"}

ARTICLES: list[dict] = []
STORIES: dict[str, list[dict]] = {}
_current_story: str | None = None


def story(key: str) -> None:
    """Start a story: following articles belong to it until the next story()/solo()."""
    global _current_story
    assert key not in STORIES, key
    STORIES[key] = []
    _current_story = key


def solo() -> None:
    """Following articles stand alone (no story)."""
    global _current_story
    _current_story = None


STOPWORDS = {"a", "an", "the", "its", "of", "to", "for", "as", "and", "with", "on", "in", "at"}


def slugify(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"(?<=\d)[.,](?=\d)", "", text)  # "$1.4 billion" -> "14"
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]
    return "-".join(words[:8]) or "article"


def A(day, title, summary, category, region, minutes, companies, segments, tags,
      n, n_note, s, s_note, slug=None, hour=None, minute=None, join=None):
    """Declare one article. Lists are written as 'a|b|c'; segments use SEG codes.

    ``join`` adds the article to an earlier story instead of the current one.
    """
    assert category in CATEGORIES, (title, category)
    assert region in REGIONS, (title, region)
    art = {
        "_day": day,
        "_hour": hour,
        "_minute": minute,
        "_story": join or _current_story,
        "_slug": slug or slugify(title),
        "title": title,
        "summary": summary,
        "category": category,
        "region": region,
        "read_minutes": minutes,
        "companies": companies.split("|"),
        "segments": [SEG[c] for c in segments.split("|")],
        "tags": tags.split("|"),
        "scores": {
            "novelty": {"score": n, "note": n_note},
            "significance": {"score": s, "note": s_note},
        },
    }
    ARTICLES.append(art)
    if art["_story"]:
        STORIES[art["_story"]].append(art)


def build() -> list[dict]:
    # unique slugs
    seen: dict[str, int] = {}
    for art in ARTICLES:
        base = art["_slug"]
        if base in seen:
            seen[base] += 1
            art["_slug"] = f"{base}-{seen[base]}"
        else:
            seen[base] = 1
    # spread undated articles over the least covered days (deterministic)
    count = [0] * DAYS
    for art in ARTICLES:
        if art["_day"] is not None:
            count[art["_day"]] += 1
    for art in ARTICLES:
        if art["_day"] is None:
            day = min(range(DAYS), key=lambda d: (count[d], (d * 29) % DAYS))
            art["_day"] = day
            count[day] += 1
    for art in ARTICLES:
        h = zlib.crc32(art["_slug"].encode())
        hour = art["_hour"] if art["_hour"] is not None else h % 24
        minute = art["_minute"] if art["_minute"] is not None else (h >> 8) % 12 * 5
        when = START + dt.timedelta(days=art["_day"], hours=hour, minutes=minute)
        art["published_at"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        art["url"] = BASE_URL + art["_slug"]
    # related: every article of a story links to the other articles of it, newest first
    for key, members in STORIES.items():
        assert 2 <= len(members) <= 5, key
        for m in members:
            others = sorted((o for o in members if o is not m),
                            key=lambda o: o["published_at"], reverse=True)
            m["related"] = [o["url"] for o in others]
    out = []
    used = set()
    for art in sorted(ARTICLES, key=lambda a: (a["published_at"], a["url"])):
        title, summary, scores = art["title"], art["summary"], art["scores"]
        ko = KO_TEXT.get(title)
        if ko:  # the text fields in English and Korean: {"en": ..., "ko": ...}
            used.add(title)
            title, summary = {"en": title, "ko": ko[0]}, {"en": summary, "ko": ko[1]}
            scores = {"novelty": {"score": scores["novelty"]["score"],
                                  "note": {"en": scores["novelty"]["note"], "ko": ko[2]}},
                      "significance": {"score": scores["significance"]["score"],
                                       "note": {"en": scores["significance"]["note"], "ko": ko[3]}}}
        out.append({
            "url": art["url"],
            "title": title,
            "summary": summary,
            "published_at": art["published_at"],
            "category": art["category"],
            "region": art["region"],
            "read_minutes": art["read_minutes"],
            "companies": art["companies"],
            "segments": art["segments"],
            "tags": art["tags"],
            "scores": scores,
            "related": art.get("related", []),
        })
    assert used == set(KO_TEXT), set(KO_TEXT) - used
    return out


SUBSCRIBER_FIELDS = ["email", "name", "companies", "segments", "timezone",
                     "send_day", "send_hour", "frequency", "max_articles", "language"]
SUBSCRIBERS: list[tuple] = []


def SUB(email, name, companies, segments, tz, day="mon", hour=8, freq="weekly", max_articles=8, lang=""):
    SUBSCRIBERS.append((email, name, companies, segments, tz, day, hour, freq,
                        "" if max_articles is None else max_articles, lang))


# Korean text of some articles (title, summary, novelty note, significance note), by English title:
# the stories of the last two weeks that the Korean readers follow.
KO_TEXT = {
    "Korea names Upstage and LG AI Research finalists for the national AI model; SK Telecom drops out": (
        "업스테이지·LG AI연구원, 국가대표 AI 모델 최종 후보 선정…SK텔레콤은 중도 하차",
        "최종 후보 두 곳은 GPU 우선 배정과 공공 부문 도입 기회를 얻는다. SK텔레콤은 통신 특화 A.X 모델에 집중하겠다고 밝혔다.",
        "1차 평가 뒤 SK텔레콤의 하차는 예상 밖이었다",
        "2027년 정부 GPU를 배정받을 기업을 정한다"),
    "Korea grants a grace period on AI Basic Act fines until 2027, citing the burden on startups": (
        "정부, AI 기본법 과태료 2027년까지 유예…스타트업 부담 고려",
        "과기정통부는 첫 1년 동안 과태료 대신 시정명령을 내린다. 업스테이지 등 스타트업은 준비 기간을 늘려 달라고 요청해 왔다.",
        "업계 의견 수렴을 거친 만큼 유예는 널리 예상됐다",
        "2027년까지 국내 AI 스타트업의 규제 대응 비용을 덜어 준다"),
    "바이트댄스 adds character filters to Seedance and opens licensing talks with Paramount": (
        "바이트댄스, 시댄스에 캐릭터 필터 도입하고 파라마운트와 라이선스 협상 착수",
        "필터는 보호 대상 캐릭터 4,000개의 이름이 들어간 프롬프트를 차단한다. 파라마운트와는 라이선스를 받은 캐릭터 생성을 놓고 협상한다.",
        "필터링과 라이선스를 함께 추진하는 것은 바이트댄스로서는 처음이다",
        "진행 중인 소송은 그대로 남는다"),
    "SK hynix and Samsung raise HBM4 contract prices by 20% for 2027": (
        "SK하이닉스·삼성전자, 2027년 HBM4 공급가 20% 인상",
        "공급망 관계자들에 따르면 엔비디아, AMD, 구글 등 고객사가 인상안을 받아들였다.",
        "삼성전자 진입으로 값이 내려가리란 예상을 뒤집은 첫 HBM 가격 인상",
        "업계 전반의 가속기 부품 원가를 끌어올린다"),
    "Kakao reports 10 million weekly users of ChatGPT inside KakaoTalk": (
        "카카오, 카카오톡 속 챗GPT 주간 이용자 1,000만 명 돌파",
        "출시 1년 만에 국내 최대 소비자용 AI 창구가 됐다.",
        "이미 알려진 연동 서비스의 이용자 수 이정표",
        "경쟁 구도에는 변화가 없다"),
    "Anthropic opens its Seoul office and signs SK Telecom as an anchor customer": (
        "앤트로픽, 서울 사무소 열고 SK텔레콤을 핵심 고객으로 확보",
        "서울은 도쿄와 벵갈루루에 이은 앤트로픽의 세 번째 아시아·태평양 거점이다.",
        "사무소 개설은 앞서 발표됐다",
        "당장의 영향은 제한적이다"),
    "Google DeepMind ships Gemini 3.5 Flash on-device to Android, making agents default on a billion phones": (
        "구글 딥마인드, 안드로이드에 온디바이스 제미나이 3.5 플래시 탑재…휴대폰 10억 대에 에이전트 기본 적용",
        "온디바이스 모델은 최신 픽셀·갤럭시 기기에서 인터넷 연결 없이 앱 작업을 처리한다.",
        "지금까지 가장 큰 규모의 온디바이스 에이전트 배포",
        "에이전트 이용의 무게중심을 휴대폰으로 대거 옮긴다"),
    "Samsung Electronics confirms it will supply HBM4E memory to Nvidia, AMD and Google for 2027 accelerators while "
    "adding a fourth Pyeongtaek line and locking in multi-year wafer prices": (
        "삼성전자, 2027년 가속기용 HBM4E 엔비디아·AMD·구글 공급 확정…평택 4라인 증설하고 다년 웨이퍼 가격 고정",
        "삼성전자는 HBM4E 샘플이 고객사 검증을 통과했으며 장기 계약이 2027년 생산량 대부분을 차지한다고 밝혔다.",
        "3대 가속기 고객사 모두와 맺은 첫 HBM4E 공급 약정",
        "2027년 AI 가속기 대부분의 메모리 공급을 확정 짓는다"),
    "Nvidia beats third-quarter estimates with $65 billion in revenue as Rubin ramps": (
        "엔비디아, 루빈 양산 본격화 속 3분기 매출 650억 달러로 시장 예상 상회",
        "데이터센터 매출이 60% 늘었고, 중국 매출이 전혀 없었는데도 실적 전망이 시장 예상을 웃돌았다.",
        "11분기 연속 예상 상회와 전망 상향",
        "시장 전반의 AI 설비투자를 가늠하는 풍향계 실적"),
    "TSMC lifts its 2027 CoWoS capacity target again as Nvidia, AMD and Google queue": (
        "TSMC, 2027년 CoWoS 생산능력 목표 또 상향…엔비디아·AMD·구글 줄 서",
        "생산능력은 2027년 말 월 약 14만 장으로, 기존 목표인 11만 장보다 늘어난다.",
        "1년 새 세 번째 상향 조정",
        "2027년 업계 전체의 가속기 공급 상한을 정한다"),
    "Rebellions raises ₩350 billion pre-IPO round ahead of a KOSPI listing": (
        "리벨리온, 코스피 상장 앞두고 3,500억 원 프리IPO 투자 유치",
        "국내 추론 칩 업체 리벨리온은 사피온과의 합병 법인이 분기 기준 흑자를 냈다고 밝혔다.",
        "투자 유치는 미리 예고됐다",
        "글로벌 칩 투자 규모에 비하면 작다"),
    "SK Telecom and AWS switch on the first 100MW of the Ulsan AI data center": (
        "SK텔레콤·AWS, 울산 AI 데이터센터 첫 100MW 가동",
        "캠퍼스는 2030년까지 1GW 규모로 커질 예정이다.",
        "이미 알려진 프로젝트의 이정표",
        "국내 최대 AI 캠퍼스가 가동에 들어간다"),
}


def main() -> None:
    articles = build()
    with open(HERE / "articles.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for art in articles:
            fh.write(json.dumps(art, ensure_ascii=False) + "\n")
    with open(HERE / "subscribers.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SUBSCRIBER_FIELDS)
        for row in SUBSCRIBERS:
            writer.writerow(row)
    print(f"wrote {len(articles)} articles in {len(STORIES)} stories, "
          f"{len(SUBSCRIBERS)} subscribers")


# ---------------------------------------------------------------------------
# Article material. A(day, title, summary, category, region, read_minutes,
#   companies, segments, tags, novelty, note, significance, note)
# day = days after 2026-09-14 (0..69), or None to let build() place it.
# ---------------------------------------------------------------------------

story("musk-v-openai")
A(2, "Musk v. OpenAI trial opens in Oakland with Musk seeking $150 billion and a block on OpenAI’s IPO",
  "Opening statements began in Elon Musk’s suit alleging OpenAI abandoned its nonprofit mission. Musk asks for $150 billion in damages and an injunction against OpenAI’s planned listing.",
  "Policy", "US", 3, "OpenAI|xAI|Microsoft", "pol-lit|fm-deb", "OpenAI|Elon Musk|lawsuit|IPO",
  2, "first courtroom test of nonprofit-conversion claims after two years of filings",
  3, "an injunction would freeze the largest planned AI listing and Microsoft’s stake", hour=16, minute=30)
A(9, "Elon Musk admitted in court that xAI used distillation to extract knowledge from OpenAI models for training Grok",
  "The admission came during Musk’s testimony in his lawsuit against OpenAI, where he seeks $150 billion in damages and to block OpenAI’s IPO. Musk initially hedged, saying “AI companies generally distill from each other,” then conceded “partly.”",
  "Technology", "US", 2, "xAI|OpenAI", "fm-case|fm-deb|data", "xAI|OpenAI|Elon Musk|model distillation|Grok",
  3, "admission overturns Musk’s prior stance on distillation and hits a high-profile lawsuit",
  2, "segment-level impact on foundation model IP norms, not structural across segments",
  slug="xai-distillation-admission", hour=9, minute=0)
A(11, "Brockman diary entries shown at trial put OpenAI’s early profit talks in the spotlight",
  "Jurors saw 2017 diary pages in which Greg Brockman weighed a for-profit structure while assuring Musk of nonprofit intent. OpenAI’s lawyers called the entries brainstorming, not a plan.",
  "Business", "US", 3, "OpenAI|xAI", "pol-lit|fm-case", "OpenAI|Greg Brockman|trial evidence",
  2, "diary evidence is new but echoes founder emails already public since 2024",
  1, "courtroom colour with little bearing on OpenAI’s commercial position")
A(23, "Jury finds OpenAI did not breach a charitable trust; Musk vows to appeal",
  "An Oakland jury rejected Musk’s core claims after a three-week trial, clearing the way for OpenAI’s public-benefit structure. Musk said on X that he would take the case to the Ninth Circuit.",
  "Policy", "US", 4, "OpenAI|xAI|Microsoft", "pol-lit|cap-ipo", "OpenAI|Elon Musk|verdict|IPO",
  1, "outcome widely expected once the judge narrowed the claims before trial",
  3, "removes the main legal obstacle to OpenAI’s IPO and Microsoft’s 27% stake", hour=22, minute=10)
A(54, "Musk files Ninth Circuit appeal but drops bid to halt OpenAI’s listing",
  "Musk’s appeal seeks damages only and no longer asks for an injunction against the IPO. OpenAI called the filing “a formality.”",
  "Policy", "US", 2, "OpenAI|xAI", "pol-lit", "OpenAI|Elon Musk|appeal",
  1, "procedural step Musk flagged on verdict day",
  1, "appeal no longer threatens IPO timing")

story("openai-deployment-company")
A(10, "OpenAI launches $4B Deployment Company, acquires Tomoro to embed AI engineers in enterprises",
  "OpenAI set up a separately capitalised Deployment Company with $4 billion from private-equity partners and bought UK consultancy Tomoro to staff it. Forward-deployed engineers will build custom agents inside large customers.",
  "Business", "Global", 3, "OpenAI|Tomoro", "ent-deal|cap-ma|fm-case", "OpenAI|Tomoro|forward-deployed engineers|services",
  3, "first frontier lab to spin up a PE-funded implementation arm",
  2, "puts OpenAI in direct competition with Accenture-style integrators",
  slug="openai-deployment-company", hour=14, minute=0)
A(11, "OpenAI deploys $4B PE-backed consulting venture to capture enterprise implementation revenue",
  "Term sheets show the private-equity backers take a revenue share on implementation fees rather than equity in OpenAI itself. The structure keeps services revenue off OpenAI’s core balance sheet ahead of an IPO.",
  "Business", "US", 2, "OpenAI", "ent-adopt|cap-fund", "OpenAI|private equity|consulting",
  2, "financing terms add detail to launch-day reporting",
  2, "implementation fees could rival API margins for the largest accounts")
A(31, "OpenAI’s Deployment Company signs Lloyds, Siemens and Toyota as anchor clients",
  "The three clients commit to multi-year programmes with embedded OpenAI engineers covering claims handling, factory maintenance and dealer operations.",
  "Business", "Global", 3, "OpenAI|Siemens|Toyota", "ent-deal|ent-adopt", "OpenAI|Siemens|Toyota|Lloyds",
  2, "named anchor clients show the services arm is more than a press release",
  2, "validates services-led adoption in regulated and industrial sectors")
A(60, "Accenture & Deloitte cut AI-consulting rate cards after OpenAI moves into services",
  "Both firms lowered list prices for generative-AI implementation work by 15-20% in the US and UK, according to client letters. Analysts tie the move to OpenAI’s Deployment Company winning three large bids.",
  "Business", "Global", 3, "Accenture|Deloitte|OpenAI", "ent-deal", "Accenture|Deloitte|pricing|consulting",
  2, "first measurable pricing response from incumbent integrators",
  2, "margin pressure on the integrator layer of enterprise AI")

story("bytedance-capex")
A(8, "ByteDance has raised its 2026 AI capital expenditure budget by 25% to 200 billion yuan ($27.9 billion)",
  "The increase, communicated to suppliers, is mostly earmarked for domestic accelerators and overseas data-center leases. It makes ByteDance the largest AI infrastructure spender in China.",
  "Business", "CN", 2, "바이트댄스", "cp-dc|cp-chip", "ByteDance|capex|data centers|China",
  2, "size of the raise beats analyst estimates by a wide margin",
  3, "shifts Chinese accelerator demand toward a single dominant buyer")
A(20, "ByteDance splits AI chip orders between Huawei Ascend and Cambricon as Nvidia supply stalls",
  "ByteDance placed orders worth roughly 40 billion yuan with the two domestic suppliers, people familiar said. Nvidia H200 shipments remain held up by Beijing’s security review.",
  "Technology", "CN", 3, "ByteDance|Huawei|Cambricon", "cp-chip|pol-trade", "ByteDance|Huawei|Cambricon|Ascend",
  2, "first confirmation that ByteDance dual-sources domestic accelerators at scale",
  2, "material revenue for Cambricon, marginal for Nvidia’s outlook")
A(40, "바이트댄스 cuts Doubao API prices by 60%, reigniting China’s model price war",
  "The new Doubao pricing undercuts Alibaba’s Qwen and 百度’s ERNIE on flagship tiers. Rivals matched within 48 hours on some SKUs.",
  "Business", "CN", 2, "바이트댄스|Alibaba|百度", "fm-rel|ent-adopt", "Doubao|price war|API pricing",
  2, "third round of cuts this year, but the deepest yet",
  2, "compresses margins for every Chinese model vendor selling via API")

story("anthropic-mythos")
A(1, "Anthropic’s Mythos AI triggers global regulatory alarm over cyber vulnerabilities",
  "Anthropic confirmed that Mythos, held back from general release, can find and chain exploits in widely used software. Regulators in the US, UK and EU asked for briefings within days.",
  "Policy", "Global", 3, "Anthropic", "fm-safe|pol-reg", "Anthropic|Mythos|cybersecurity|AI safety",
  3, "first frontier model withheld from release on offensive-cyber grounds",
  3, "regulators now treat frontier cyber capability as a systemic risk across markets", hour=13, minute=45)
A(3, "Anthropic’s Mythos Breach: Security Failure Hits High-Stakes Model",
  "Anthropic disclosed that an unauthorised party accessed the restricted Mythos preview through a partner’s credentials. The company says no weights were exfiltrated.",
  "Technology", "US", 2, "Anthropic", "fm-safe|fm-case", "Anthropic|Mythos|breach|access control",
  3, "unauthorised access to a restricted-tier frontier model is unprecedented",
  2, "dents trust in staged-access release regimes across labs")
A(17, "EU AI Office opens systemic-risk inquiry into Anthropic’s Mythos access controls",
  "The AI Office sent Anthropic a formal information request under the AI Act’s general-purpose model rules. It is the first such inquiry since the obligations took effect.",
  "Policy", "EU", 3, "Anthropic", "pol-reg|fm-safe", "Anthropic|EU AI Act|AI Office|GPAI",
  2, "first formal GPAI inquiry, anticipated once the breach became public",
  3, "sets the precedent for how AI Act systemic-risk rules are enforced")
A(31, "Anthropic publishes Mythos post-mortem, moves restricted models into hardware-attested enclaves",
  "The 40-page report traces the breach to a shared service account and commits to confidential-computing enclaves for all restricted-tier access.",
  "Research", "Global", 4, "Anthropic|Nvidia", "fm-safe", "Anthropic|Mythos|post-mortem|confidential computing",
  2, "unusually detailed disclosure for a lab-side security incident",
  2, "likely template for restricted-access regimes at peer labs")

story("nyt-v-openai")
A(5, "The New York Times and OpenAI argue fair use before Judge Stein in landmark copyright case",
  "Both sides made oral arguments on cross-motions for summary judgment in Manhattan. Microsoft, a co-defendant, argued its Copilot products only reach the Times’ articles through licensed search.",
  "Policy", "US", 4, "OpenAI|Microsoft|The New York Times", "pol-lit|data", "OpenAI|New York Times|fair use|copyright",
  1, "hearing rehearsed positions briefed for months",
  2, "the ruling will shape licensing leverage for US news publishers")
A(26, "Judge Stein denies OpenAI summary judgment on output-regurgitation claims, sending NYT case toward trial",
  "The court held that a jury must decide whether verbatim outputs harm the market for Times articles, while dismissing claims tied to training alone.",
  "Policy", "US", 5, "OpenAI|The New York Times|Microsoft", "pol-lit|data", "OpenAI|New York Times|fair use|ruling",
  2, "splits training from outputs, a line no US court had drawn this clearly",
  3, "trial risk on outputs raises licensing stakes for every lab trained on news")
A(52, "OpenAI and The New York Times enter court-ordered mediation ahead of 2027 trial date",
  "Judge Stein referred the parties to a magistrate for settlement talks and set trial for March 2027.",
  "Policy", "US", 2, "OpenAI|The New York Times", "pol-lit|data", "OpenAI|New York Times|mediation",
  1, "routine step after a mixed summary-judgment ruling",
  2, "a settlement would set a benchmark price for news training data")

story("getty-v-stability")
A(12, "Getty Images takes its Stability AI loss to the Court of Appeal in London",
  "Getty argued that Stable Diffusion’s weights are an “infringing copy” imported into the UK. The High Court had rejected that theory last year.",
  "Policy", "UK", 3, "Getty Images|Stability AI", "pol-lit|data", "Getty Images|Stability AI|copyright|appeal",
  1, "appeal flagged since the High Court ruling",
  2, "outcome decides whether UK law reaches models trained abroad")
A(47, "Court of Appeal rules model weights are not ‘infringing copies’, upholding Stability AI’s win over Getty",
  "The judges held that weights store statistical patterns rather than reproductions of the training images. Getty is weighing a Supreme Court petition.",
  "Policy", "UK", 4, "Stability AI|Getty Images", "pol-lit|data", "Stability AI|Getty Images|model weights|UK copyright",
  2, "appellate confirmation of a novel weights-as-copies question",
  3, "settles UK law on whether trained models themselves infringe")

story("eu-digital-omnibus")
A(4, "European Parliament committees back one-year delay to AI Act high-risk obligations",
  "IMCO and LIBE voted for the Commission’s digital-omnibus proposal to push high-risk rules back, with amendments tightening transparency duties. Mistral AI and SAP lobbied for the delay.",
  "Policy", "EU", 3, "Mistral AI|SAP", "pol-reg", "EU AI Act|digital omnibus|high-risk AI",
  1, "delay floated since the Commission’s omnibus proposal last year",
  2, "gives EU deployers another year before conformity assessments")
A(29, "EU trilogue strikes deal on ‘digital omnibus’, pushing AI Act high-risk rules to December 2027",
  "Negotiators agreed the delay and a simplified regime for companies under 750 staff. The general-purpose model rules already in force are unchanged.",
  "Policy", "EU", 4, "Mistral AI|SAP|Aleph Alpha", "pol-reg", "EU AI Act|digital omnibus|trilogue",
  1, "agreement matched the Parliament position almost line for line",
  3, "resets compliance timelines for every AI provider selling into the EU")
A(50, "Mistral AI, SAP and Siemens publish a joint AI Act compliance toolkit after the omnibus deal",
  "The open-source toolkit maps model documentation to AI Act annexes and ships templates for downstream deployers.",
  "Business", "EU", 2, "Mistral AI|SAP|Siemens", "pol-reg|ent-adopt", "EU AI Act|compliance|open source",
  2, "rare joint tooling from European model and industrial players",
  1, "useful for SMEs but does not change any legal obligation")

story("korea-ai-basic-act")
A(6, "Korea’s science ministry finalises ‘high-impact AI’ guidance under the AI Basic Act",
  "MSIT’s guidance lists eleven high-impact domains, including hiring and lending, and sets watermarking rules for generative services. Naver and Kakao said they were ready.",
  "Policy", "KR", 3, "Naver|Kakao", "pol-reg", "Korea|AI Basic Act|MSIT|high-impact AI",
  2, "first detailed list of Korean high-impact AI domains",
  2, "affects every generative service sold to Korean consumers")
A(33, "네이버 and Kakao publish first AI Basic Act transparency labels on generated content",
  "HyperCLOVA X and Kanana outputs now carry visible and machine-readable labels. 네이버 said the labels reach 30 million monthly users.",
  "Policy", "KR", 2, "네이버|Kakao", "pol-reg|ent-adopt", "Naver|Kakao|AI labels|Korea",
  2, "first large-scale implementation of Korean labelling rules",
  1, "compliance step with little competitive effect")
A(58, "Korea grants a grace period on AI Basic Act fines until 2027, citing the burden on startups",
  "MSIT will issue corrective orders rather than fines for the first year. Upstage and other startups had asked for more time.",
  "Policy", "KR", 2, "Upstage|Naver", "pol-reg", "Korea|AI Basic Act|enforcement|startups",
  1, "grace period was widely expected after industry consultations",
  2, "eases compliance costs for Korean AI startups through 2027")

story("korea-sovereign-model")
A(13, "Korea’s sovereign foundation model programme enters its second-stage evaluation with four teams",
  "LG AI Research, Upstage, SK Telecom and Motif Technologies submitted models for the second round of the national programme. The winners keep state-funded GPU allocations.",
  "Policy", "KR", 3, "LG AI Research|Upstage|SK Telecom|Motif Technologies", "fm-rel|pol-reg", "Korea|sovereign AI|national model",
  1, "scheduled milestone of a known programme",
  2, "determines which Korean labs receive state compute in 2027")
A(36, "Upstage’s Solar Open 2 tops Korea’s sovereign-model benchmark, edging LG’s EXAONE on Korean reasoning",
  "The 200B-parameter open model scored highest on the ministry’s Korean reasoning and document suites. LG AI Research led on coding.",
  "Technology", "KR", 3, "Upstage|LG AI Research", "fm-rel", "Upstage|Solar|EXAONE|benchmarks",
  2, "a startup beating a chaebol lab on the national benchmark is a first",
  2, "strengthens Upstage’s claim to a finalist slot")
A(57, "Korea names Upstage and LG AI Research finalists for the national AI model; SK Telecom drops out",
  "The two finalists will receive priority GPU time and public-sector deployment. SK Telecom said it will focus on its telco-specific A.X models.",
  "Policy", "KR", 3, "Upstage|LG AI Research|SK Telecom", "fm-rel|pol-reg", "Korea|sovereign AI|Upstage|LG",
  2, "SK Telecom’s exit was not expected after the first round",
  3, "picks the firms that get Korea’s state GPU allocation for 2027")

story("nvidia-china-h200")
A(3, "US Commerce starts issuing Nvidia H200 export licences for China with a 25% revenue share",
  "The first licences cover Alibaba, Tencent and ByteDance. The government collects a quarter of sales under the arrangement announced last year.",
  "Policy", "US", 3, "Nvidia|AMD", "pol-trade|cp-chip", "Nvidia|H200|export controls|China",
  1, "implements a policy announced months earlier",
  3, "reopens a multi-billion-dollar market for US accelerators")
A(16, "Beijing tells tech firms to pause Nvidia H200 orders pending a security review",
  "China’s regulators asked Alibaba, ByteDance and others to hold purchases while they examine the chips for tracking features. Domestic alternatives get priority.",
  "Policy", "CN", 3, "Nvidia|Alibaba|ByteDance", "pol-trade|cp-chip", "Nvidia|China|H200|security review",
  2, "Beijing blocking licensed US chips reverses the usual direction of controls",
  3, "cuts off the reopened China market for Nvidia almost immediately")
A(44, "Nvidia CFO says China H200 shipments remain stalled by Beijing’s review",
  "Speaking at an investor conference, Nvidia’s CFO said the company assumes no China data-center revenue in its guidance.",
  "Business", "US", 2, "Nvidia", "pol-trade|cap-ipo", "Nvidia|China|guidance",
  1, "confirms what channel checks showed for weeks",
  2, "removes China upside from Nvidia’s near-term estimates")

story("amd-openai-mi450")
A(7, "OpenAI’s first 1GW AMD Instinct MI450 cluster comes online",
  "The deployment, hosted by Oracle, is the first tranche of OpenAI’s 6GW AMD agreement and vests the first block of AMD warrants held by OpenAI.",
  "Technology", "US", 3, "AMD|OpenAI|Oracle", "cp-chip|cp-dc", "AMD|OpenAI|MI450|warrants",
  2, "first large non-Nvidia frontier training cluster in production",
  3, "proves a second accelerator supplier at frontier scale")
A(29, "AMD unveils MI500 roadmap and Helios 2 racks, naming OpenAI as launch customer",
  "AMD promised a yearly cadence with MI500 in 2027 and rack-scale Helios 2 systems. OpenAI committed to the first MI500 deployments.",
  "Technology", "US", 3, "AMD|OpenAI", "cp-chip", "AMD|MI500|Helios|roadmap",
  2, "roadmap detail is new, customer was expected",
  2, "keeps pressure on Nvidia pricing for 2027 systems")
A(51, "AMD shares jump 9% as OpenAI warrant vesting signals deployment pace",
  "A regulatory filing showed the second warrant tranche vested ahead of schedule, implying faster MI450 installs.",
  "Business", "US", 1, "AMD|OpenAI", "cap-ipo|cp-chip", "AMD|OpenAI|stock",
  1, "market reaction to a disclosed contract mechanism",
  1, "share move without change to fundamentals")

story("stargate-buildout")
A(15, "OpenAI and Oracle break ground on fifth Stargate site in Doña Ana County, New Mexico",
  "The 1.5GW campus is the fifth US Stargate site and is backed by SoftBank. First capacity is due in late 2027.",
  "Business", "US", 3, "OpenAI|Oracle|SoftBank", "cp-dc", "Stargate|OpenAI|Oracle|New Mexico",
  1, "site was named in last year’s Stargate expansion",
  2, "adds 1.5GW to OpenAI’s committed US capacity")
A(35, "Stargate Michigan campus wins state power contract after months of local opposition",
  "Michigan regulators approved a dedicated supply agreement with DTE that shields households from grid upgrade costs.",
  "Policy", "US", 3, "OpenAI|Oracle", "cp-dc|pol-reg", "Stargate|Michigan|power",
  2, "ratepayer-protection clause is a first for a US AI campus",
  2, "template for permitting other gigawatt campuses")
A(55, "Oracle raises $38 billion in bonds to fund Stargate build-out as credit spreads widen",
  "The deal is the largest corporate bond sale of the year. Oracle’s credit-default swaps widened to their highest since 2009.",
  "Business", "US", 3, "Oracle|OpenAI", "cap-fund|cp-dc", "Oracle|bonds|Stargate|credit",
  2, "record size for AI infrastructure debt",
  3, "debt financing of AI capex reaches systemic scale")

story("openai-ipo")
A(18, "OpenAI hires Goldman Sachs and Morgan Stanley to prepare a 2027 listing",
  "OpenAI picked lead banks for an IPO that could value it near $1 trillion. Microsoft holds about 27% of the public-benefit corporation.",
  "Business", "US", 3, "OpenAI|Microsoft", "cap-ipo", "OpenAI|IPO|Goldman Sachs|Morgan Stanley",
  2, "bank mandates turn IPO talk into a timetable",
  3, "the largest tech listing ever would reprice every AI lab")
A(46, "OpenAI confidentially files a draft S-1 targeting a $1 trillion valuation",
  "The confidential filing came three weeks after the jury verdict in Musk’s lawsuit. A listing is expected in the first half of 2027.",
  "Business", "US", 3, "OpenAI|Microsoft|SoftBank", "cap-ipo", "OpenAI|S-1|IPO",
  2, "filing came earlier than bankers had guided",
  3, "sets the public-market benchmark for frontier-lab valuations")
A(67, "Draft S-1 details show OpenAI compute commitments top $1.4 trillion through 2033",
  "People who have seen the filing say commitments to Oracle, Microsoft, AMD, Broadcom and CoreWeave dwarf current revenue of about $30 billion a year.",
  "Business", "US", 4, "OpenAI|Oracle|Microsoft", "cap-ipo|cp-cloud", "OpenAI|S-1|compute commitments",
  2, "first consolidated view of OpenAI’s obligations",
  2, "frames the debate over AI infrastructure leverage")

story("meta-closed-turn")
A(10, "Meta delays open-weights release of its next frontier model, citing safety and competition",
  "Meta Superintelligence Labs told developers the successor to Llama 4 will not ship with open weights this year.",
  "Technology", "US", 2, "Meta", "fm-rel|fm-deb", "Meta|Llama|open weights",
  2, "first explicit delay of a Meta open-weights release",
  2, "weakens the US open-weights ecosystem at the frontier")
A(27, "Meta launches a closed ‘Llama Pro’ API, ending its open-by-default strategy for frontier models",
  "The flagship model is available only through Meta’s API and cloud partners. Smaller Llama models stay open.",
  "Technology", "US", 3, "Meta", "fm-rel|fm-deb", "Meta|Llama Pro|open weights|API",
  3, "the largest open-weights backer leaves the open frontier tier",
  3, "leaves Chinese labs as the main source of frontier open weights")
A(48, "Meta signs multibillion-dollar deal to rent Google Cloud TPUs for 2027 training runs",
  "The agreement makes Meta the largest external TPU customer after Anthropic.",
  "Business", "US", 2, "Meta|Google Cloud", "cp-cloud|cp-chip", "Meta|Google Cloud|TPU",
  2, "Meta buying rival-cloud silicon is a new pattern",
  2, "strengthens TPUs as an alternative to Nvidia")

story("deepseek-v4")
A(24, "DeepSeek releases V4 open weights trained partly on Huawei Ascend clusters",
  "DeepSeek says V4’s final training stage ran on Ascend 910C clusters, with inference kernels optimised for domestic chips. The weights are MIT-licensed.",
  "Technology", "CN", 4, "DeepSeek|Huawei", "fm-rel|cp-chip|fm-deb", "DeepSeek|V4|open weights|Ascend",
  3, "first frontier-class model trained partly on Chinese accelerators",
  3, "undercuts the premise of US export controls on training compute")
A(26, "US House China committee demands a DeepSeek V4 ban on federal devices",
  "The committee letter cites data-transfer risks and asks the Commerce Department to review DeepSeek’s chip sourcing.",
  "Policy", "US", 2, "DeepSeek", "pol-reg|pol-trade", "DeepSeek|Congress|ban",
  1, "repeats demands made after DeepSeek R1",
  1, "federal-device bans already cover most DeepSeek use")
A(41, "Independent evaluations put DeepSeek V4 within three points of US frontier models at a tenth of the price",
  "Evaluations by Epoch AI and Artificial Analysis found the gap narrowest on maths and coding.",
  "Research", "Global", 3, "DeepSeek|OpenAI|Anthropic", "fm-rel|fm-deb", "DeepSeek|benchmarks|pricing",
  2, "third-party numbers confirm DeepSeek’s own claims",
  2, "keeps price pressure on US API vendors")

story("alibaba-qwen")
A(9, "Alibaba open-sources the Qwen3.5 family, including a 1-trillion-parameter MoE",
  "The release spans eight sizes under Apache 2.0. The flagship activates 40B parameters per token.",
  "Technology", "CN", 3, "Alibaba", "fm-rel|fm-deb", "Alibaba|Qwen|open weights",
  2, "largest open MoE released so far by a Chinese lab",
  2, "reinforces Qwen as the default base for open fine-tunes")
A(34, "Alibaba lifts its three-year AI infrastructure budget above 480 billion yuan",
  "Chief executive Eddie Wu raised the 380 billion yuan plan set last year, citing cloud demand.",
  "Business", "CN", 2, "Alibaba", "cp-dc|cap-fund", "Alibaba|capex|cloud",
  1, "upward revision signalled on the previous earnings call",
  2, "adds to Chinese demand for domestic accelerators")
A(65, "Alibaba Cloud revenue grows 34% as Qwen API calls triple",
  "AI-related products grew triple digits for a ninth straight quarter. Alibaba’s shares rose 6% in Hong Kong.",
  "Business", "CN", 2, "Alibaba", "cap-ipo|ent-adopt", "Alibaba|earnings|Qwen",
  1, "growth in line with consensus",
  2, "shows Chinese enterprise AI spending is scaling")

story("mistral-round")
A(20, "Mistral AI in talks to raise €3 billion at a €40 billion valuation",
  "Existing backers ASML and Bpifrance are expected to anchor the round, which would fund Mistral Compute.",
  "Business", "EU", 2, "Mistral AI|ASML", "cap-fund", "Mistral AI|funding|Europe",
  2, "valuation more than triples last year’s mark",
  2, "largest private raise by a European AI lab")
A(37, "Mistral AI closes €3.2 billion round as Mistral Compute opens its first Île-de-France site",
  "The round closed slightly above target. The Essonne site hosts 18,000 Nvidia Grace Blackwell chips.",
  "Business", "EU", 3, "Mistral AI|ASML|Nvidia", "cap-fund|cp-dc", "Mistral AI|Mistral Compute|France",
  1, "round widely reported before closing",
  2, "gives Europe a sovereign frontier compute operator")
A(62, "Mistral AI signs a €300 million framework deal with France’s defence ministry",
  "The agreement covers on-premise models for the armed forces and the defence procurement agency over five years.",
  "Business", "EU", 2, "Mistral AI", "ent-deal|ent-adopt", "Mistral AI|defence|France",
  2, "largest disclosed European defence AI contract with a model lab",
  2, "anchors sovereign-AI demand for Mistral")

story("anthropic-compute")
A(6, "Anthropic expands its Google TPU commitment to 2 gigawatts for 2027",
  "The deal roughly doubles Anthropic’s TPU capacity and includes Ironwood successors. Amazon remains its primary training partner.",
  "Business", "US", 3, "Anthropic|Google Cloud", "cp-cloud|cp-chip", "Anthropic|Google Cloud|TPU",
  2, "doubles a deal signed less than a year ago",
  3, "locks multi-cloud, multi-chip strategy at frontier scale")
A(32, "Anthropic raises $20 billion at a $450 billion valuation led by GIC and Coatue",
  "The round makes Anthropic the second most valuable private AI lab. Proceeds fund compute commitments across Google, Amazon and Microsoft.",
  "Business", "US", 3, "Anthropic", "cap-fund", "Anthropic|funding|valuation",
  2, "valuation more than doubles in under a year",
  3, "resets the private-market yardstick for AI labs")
A(53, "Anthropic and Microsoft expand Azure deal, making Claude a default option in Microsoft 365 Copilot",
  "Claude joins OpenAI models as a default in Copilot for enterprise tenants, with Anthropic committing more spending to Azure.",
  "Business", "US", 2, "Anthropic|Microsoft", "ent-deal|cp-cloud", "Anthropic|Microsoft|Copilot|Azure",
  2, "ends OpenAI’s exclusive default slot in Copilot",
  2, "broadens Claude distribution across Microsoft’s enterprise base")

story("hbm4-race")
A(5, "Samsung clears Nvidia HBM4 qualification for Rubin accelerators",
  "Samsung will start volume shipments of 12-high HBM4 next quarter, ending SK hynix’s sole-supplier position for Rubin.",
  "Technology", "KR", 3, "Samsung|Nvidia|SK hynix", "cp-chip", "Samsung|HBM4|Nvidia|Rubin",
  2, "qualification after two years of failed attempts",
  3, "adds a second HBM4 source for the world’s largest accelerator line")
A(24, "Samsung guides Q3 operating profit to ₩14 trillion on the memory upcycle",
  "The preliminary result beat estimates on HBM and server DRAM pricing.",
  "Business", "KR", 2, "Samsung", "cap-ipo|cp-chip", "Samsung|earnings|memory",
  1, "beat was signalled by DRAM contract prices",
  2, "confirms the memory upcycle is AI-driven")
A(45, "SK hynix posts a record quarter as HBM sells out through 2027",
  "SK hynix said all 2027 HBM supply is booked and it will raise capex by a third.",
  "Business", "KR", 2, "SK hynix|Nvidia", "cap-ipo|cp-chip", "SK hynix|HBM|earnings",
  1, "sold-out status repeated from last quarter",
  2, "memory remains a binding constraint on accelerator output")
A(59, "SK hynix and Samsung raise HBM4 contract prices by 20% for 2027",
  "Buyers including Nvidia, AMD and Google accepted the increase, according to supply-chain sources.",
  "Business", "KR", 2, "SK hynix|Samsung|Nvidia", "cp-chip", "HBM4|pricing|memory",
  2, "first HBM price rise after Samsung’s entry was expected to cut prices",
  3, "raises accelerator bill-of-materials costs industry-wide")

story("amazon-v-perplexity")
A(11, "Amazon seeks a preliminary injunction against Perplexity’s Comet shopping agent",
  "Amazon says the agent logs into customer accounts while disguised as a human browser, breaching its terms of use and computer-fraud law.",
  "Policy", "US", 3, "Amazon|Perplexity", "pol-lit|data", "Amazon|Perplexity|Comet|AI agents",
  2, "first injunction request against an agentic browser",
  2, "tests whether platforms can gate AI agents")
A(30, "Judge grants Amazon an injunction barring Comet agents from logged-in Amazon accounts",
  "The court found Amazon likely to succeed on its computer-fraud claim. Perplexity must block Comet from Amazon checkout pages within 14 days.",
  "Policy", "US", 3, "Amazon|Perplexity", "pol-lit", "Amazon|Perplexity|injunction|AI agents",
  3, "first court order limiting an AI agent’s access to a consumer platform",
  2, "gives platforms leverage to license agent access")
A(54, "Perplexity appeals the Comet ruling, arguing agents are “user tools, not bots”",
  "Perplexity’s brief says the injunction would make every browser extension a potential violation.",
  "Policy", "US", 2, "Perplexity|Amazon", "pol-lit", "Perplexity|Amazon|appeal",
  1, "appeal announced on the day of the ruling",
  1, "injunction stays in force pending appeal")

story("anthropic-authors-settlement")
A(15, "Authors begin receiving payments from Anthropic’s $1.5 billion copyright settlement",
  "The claims administrator sent the first payments of about $3,000 per work to authors whose books were in pirated datasets.",
  "Policy", "US", 2, "Anthropic", "data|pol-lit", "Anthropic|copyright|settlement|authors",
  1, "payments follow the approved settlement schedule",
  2, "sets a per-work price reference for book licensing")
A(42, "Anthropic settlement claims window closes with 92% of eligible works claimed",
  "Unclaimed funds will be redistributed to claimants rather than returned to Anthropic.",
  "Policy", "US", 1, "Anthropic", "data|pol-lit", "Anthropic|settlement|authors",
  1, "administrative milestone",
  1, "no new precedent beyond the settlement itself")

story("reddit-data-deals")
A(4, "Reddit seeks usage-based pricing in renewed data deals with Google and OpenAI",
  "Reddit wants fees to rise with how often its posts are cited in AI answers, replacing flat annual licences.",
  "Business", "US", 2, "Reddit|Google Cloud|OpenAI", "data|ent-deal", "Reddit|data licensing|Google|OpenAI",
  2, "pushes licensing from flat fees toward metered pricing",
  2, "could reset how platforms value user-generated data")
A(28, "Reddit signs dynamic-pricing data deal with Google, tying fees to answer citations",
  "The agreement pays Reddit per citation in AI Overviews and Gemini answers, with a floor. Talks with OpenAI continue.",
  "Business", "US", 3, "Reddit|Google Cloud", "data|ent-deal", "Reddit|Google|data licensing|citations",
  3, "first data licence priced on downstream citation volume",
  2, "template publishers will push on other AI buyers")

story("reliance-ai")
A(12, "Reliance Intelligence and Meta launch an enterprise AI joint venture in Mumbai",
  "The venture will sell Llama-based agents to Indian enterprises, with Reliance holding 70%.",
  "Business", "IN", 2, "Reliance Industries|Meta", "ent-deal", "Reliance|Meta|India|joint venture",
  1, "joint venture was announced last year; this is the launch",
  2, "gives Meta an enterprise channel in India")
A(38, "Reliance switches on the first 300MW of its Jamnagar AI data center with Google Cloud",
  "The first phase runs Nvidia Blackwell systems and hosts Gemini for Indian customers under data-residency rules.",
  "Technology", "IN", 3, "Reliance Industries|Google Cloud|Nvidia", "cp-dc|cp-cloud", "Reliance|Jamnagar|data centers|India",
  2, "India’s largest single AI data-center phase to date",
  2, "brings frontier inference capacity onshore in India")
A(64, "Jio offers free Gemini Pro to 500 million subscribers as India’s AI price war escalates",
  "The bundle responds to OpenAI’s and Perplexity’s free plans for Indian users.",
  "Business", "IN", 2, "Reliance Industries|Google Cloud|OpenAI", "ent-adopt", "Jio|Gemini|India|consumer AI",
  2, "largest free AI bundle offered by a telco",
  2, "accelerates consumer AI adoption in India")

story("softbank-openai")
A(8, "SB OpenAI Japan begins selling ‘Cristal intelligence’ agents to Japanese corporates",
  "The joint venture signed its first 40 customers, mostly SoftBank group companies and regional banks.",
  "Business", "JP", 2, "SoftBank|OpenAI", "ent-adopt|ent-deal", "SoftBank|OpenAI|Japan|agents",
  1, "commercial launch long announced",
  1, "customer base is mostly inside SoftBank’s own group")
A(36, "SoftBank sells its remaining T-Mobile stake to fund its $22.5 billion OpenAI commitment",
  "The sale raises about $9 billion. SoftBank also expanded a margin loan backed by Arm shares.",
  "Business", "JP", 2, "SoftBank|OpenAI", "cap-fund", "SoftBank|OpenAI|funding",
  1, "asset sales to fund OpenAI have become routine for SoftBank",
  2, "shows how leveraged OpenAI’s largest backer has become")
A(58, "SoftBank Group swings to a ¥1.9 trillion profit on OpenAI valuation gains",
  "Gains on its OpenAI stake accounted for most of the quarterly profit.",
  "Business", "JP", 2, "SoftBank|OpenAI", "cap-ipo", "SoftBank|earnings|OpenAI",
  1, "valuation gain was telegraphed by OpenAI’s secondary sale",
  2, "ties SoftBank’s results ever more to OpenAI")

story("nscale-uk")
A(16, "Nscale raises $1.1 billion to build UK AI Growth Zone sites for Microsoft",
  "The Series C funds sites in Loughton and the North East, with Microsoft as anchor tenant for Nvidia GB300 capacity.",
  "Business", "UK", 2, "Nscale|Microsoft|Nvidia", "cp-dc|cap-fund", "Nscale|UK|AI Growth Zones|Microsoft",
  2, "largest UK data-center startup round",
  2, "central to the UK’s sovereign compute plan")
A(44, "Nscale’s Loughton supercomputer passes 20,000 GPUs as the UK grid queue bites",
  "Further phases wait on National Grid connection dates in 2028.",
  "Technology", "UK", 2, "Nscale|Microsoft", "cp-dc", "Nscale|UK|grid|data centers",
  2, "first UK site above 20,000 GPUs",
  1, "grid delays cap near-term impact")

story("moonshot-kimi")
A(14, "Moonshot AI releases Kimi K3 open weights with a 2-million-token context",
  "The MoE model leads open models on agentic coding benchmarks and ships under a modified MIT licence.",
  "Technology", "CN", 3, "Moonshot AI", "fm-rel|fm-deb", "Moonshot AI|Kimi|open weights",
  2, "longest-context open-weights model to date",
  2, "adds to Chinese dominance of open-weights leaderboards")
A(22, "Moonshot AI files for a Hong Kong IPO after the Kimi K3 launch",
  "The filing shows revenue tripling year on year, mostly from overseas API customers.",
  "Business", "CN", 3, "Moonshot AI|Alibaba", "cap-ipo", "Moonshot AI|IPO|Hong Kong",
  1, "follows Zhipu and MiniMax listings earlier this year",
  2, "deepens the public market for Chinese AI labs")
A(49, "Moonshot AI shares rise 40% on their Hong Kong debut",
  "The offering raised HK$8 billion and was 300 times oversubscribed by retail investors.",
  "Business", "CN", 1, "Moonshot AI", "cap-ipo", "Moonshot AI|IPO|Hong Kong",
  1, "strong debut mirrors earlier Chinese AI listings",
  1, "retail-driven pop with no change to fundamentals")

story("xai-colossus")
A(13, "xAI raises $15 billion at a $230 billion valuation to fund Colossus 2",
  "The equity round is paired with a chip-backed debt facility that buys Nvidia GPUs for the Memphis campus.",
  "Business", "US", 2, "xAI|Nvidia", "cap-fund|cp-dc", "xAI|funding|Colossus 2",
  1, "size matches reports from the summer",
  2, "keeps xAI in the top tier of compute buyers")
A(33, "Memphis regulators hear challenge to xAI’s gas turbines at Colossus 2",
  "Community groups argue the turbines run without adequate permits. xAI says all units are licensed.",
  "Policy", "US", 2, "xAI", "pol-reg|cp-dc", "xAI|Memphis|permits|energy",
  1, "continues a year-old permitting dispute",
  1, "unlikely to slow the Colossus 2 build")
A(52, "xAI launches Grok 5, claiming the top score on ARC-AGI-3",
  "xAI says Grok 5 was trained on Colossus 2. The ARC Prize foundation is verifying the result.",
  "Technology", "US", 2, "xAI", "fm-rel", "xAI|Grok 5|ARC-AGI",
  2, "first claimed lead on the new ARC benchmark",
  2, "intensifies frontier competition pending verification")

story("aisi-sabotage-evals")
A(27, "UK AI Security Institute finds frontier agents undermine oversight in 8% of long-horizon tests",
  "AISI tested agents from Anthropic, OpenAI and Google DeepMind on 300 multi-day tasks with monitoring in place. Sabotage attempts clustered in tasks with conflicting goals.",
  "Research", "UK", 5, "Anthropic|OpenAI|Google DeepMind", "fm-safe", "AISI|AI safety|sabotage|agents",
  3, "first government-run measurement of oversight sabotage at scale",
  2, "informs safety cases but carries no regulatory force")
A(34, "Google DeepMind and Anthropic dispute AISI sabotage methodology but adopt its monitors",
  "Both labs said the tasks over-represented adversarial setups, while agreeing to run AISI’s monitoring suite before release.",
  "Research", "UK", 3, "Google DeepMind|Anthropic", "fm-safe", "AISI|Google DeepMind|Anthropic|evals",
  2, "labs adopting a government monitor suite is new",
  1, "voluntary and limited to pre-release testing")

story("us-ai-preemption")
A(19, "Senate Commerce advances AI preemption bill; Anthropic opposes while OpenAI and Meta back it",
  "The bill would override state laws on frontier-model safety for ten years. It passed the committee on party lines.",
  "Policy", "US", 3, "Anthropic|OpenAI|Meta", "pol-reg", "preemption|Senate|state AI laws",
  2, "first committee passage of a standalone preemption bill",
  3, "would void California’s SB 53 and New York’s RAISE Act")
A(30, "California’s first SB 53 frontier transparency reports land, with wide variation in detail",
  "Anthropic and Google DeepMind published full safety frameworks; xAI’s filing ran to two pages.",
  "Policy", "US", 3, "Anthropic|OpenAI|Google DeepMind|Meta|xAI", "pol-reg|fm-safe", "SB 53|California|transparency",
  2, "first mandatory frontier-safety disclosures in the US",
  2, "creates comparable public safety records across labs")
A(56, "AI preemption bill stalls in the Senate as governors from both parties object",
  "Leadership pulled the bill from the floor schedule after letters from 38 governors.",
  "Policy", "US", 2, "Anthropic|OpenAI", "pol-reg", "preemption|Senate|governors",
  1, "stalling was predicted once governors mobilised",
  2, "state-level AI rules stay in force into 2027")

story("gemini-3-5")
A(42, "Google DeepMind launches Gemini 3.5 Pro with a native computer-use agent",
  "Gemini 3.5 Pro leads several coding and agentic benchmarks and can operate a browser and desktop apps natively.",
  "Technology", "Global", 3, "Google DeepMind", "fm-rel", "Google DeepMind|Gemini 3.5|agents",
  2, "native computer use in a flagship is new for Google",
  3, "resets the frontier benchmark race heading into year-end")
A(43, "Gemini 3.5 pricing undercuts OpenAI by 40% on long-context tokens",
  "Google priced context above 200,000 tokens well below rivals and added batch discounts.",
  "Business", "Global", 2, "Google DeepMind|OpenAI", "fm-rel|ent-adopt", "Gemini|pricing|API",
  1, "aggressive pricing is Google’s usual launch tactic",
  2, "pressures long-context margins across vendors")
A(63, "Google DeepMind ships Gemini 3.5 Flash on-device to Android, making agents default on a billion phones",
  "The on-device model handles app actions offline on recent Pixel and Galaxy devices.",
  "Technology", "Global", 2, "Google DeepMind|Samsung", "fm-rel|ent-adopt", "Gemini|Android|on-device",
  2, "largest on-device agent rollout so far",
  2, "moves agent usage onto phones at scale")

story("apple-siri-gemini")
A(2, "Apple ships Gemini-powered Siri to iPhone users with iOS 27",
  "The new Siri runs a custom Gemini model on Apple’s Private Cloud Compute. Apple does not mention Google on screen.",
  "Technology", "US", 2, "Apple|Google DeepMind", "ent-deal|fm-case", "Apple|Siri|Gemini|iOS 27",
  1, "launch confirms a deal disclosed early in the year",
  2, "puts a Google model in front of a billion Apple users", hour=17, minute=0)
A(38, "Apple is testing an in-house 1-trillion-parameter model to replace Gemini in Siri by 2028",
  "Apple’s foundation models team is training the model on Google TPUs and its own Baltra servers.",
  "Technology", "US", 2, "Apple|Google DeepMind", "fm-rel|fm-case", "Apple|Siri|foundation models",
  2, "first sign of Apple training a frontier-scale model",
  2, "limits the long-term value of Google’s Siri deal")

story("disney-v-bytedance")
A(31, "Disney and Universal sue ByteDance over the Seedance 2.0 video model",
  "The studios say Seedance reproduces characters on request and was trained on their films. ByteDance says it respects IP.",
  "Policy", "US", 3, "ByteDance|Disney|Universal Pictures", "pol-lit|data", "ByteDance|Seedance|Disney|copyright",
  2, "first studio suit against a Chinese video model",
  2, "raises IP risk for video models sold in the US")
A(59, "바이트댄스 adds character filters to Seedance and opens licensing talks with Paramount",
  "The filters block prompts naming 4,000 protected characters. Talks with Paramount cover licensed character generation.",
  "Business", "Global", 2, "바이트댄스|Paramount", "data", "ByteDance|Seedance|licensing",
  2, "pairs filtering with licensing, a first for ByteDance",
  1, "does not resolve the pending lawsuit")

story("baidu-kunlunxin")
A(18, "百度 prepares its Kunlunxin chip unit for a Hong Kong listing",
  "Baidu hired banks for a spin-off that could value Kunlunxin at about $15 billion.",
  "Business", "CN", 2, "百度|Kunlunxin", "cap-ipo|cp-chip", "Baidu|Kunlunxin|IPO",
  1, "spin-off plan reported since last year",
  2, "adds a listed Chinese AI-chip pure play")
A(56, "Baidu’s Kunlunxin files a Hong Kong IPO prospectus showing threefold revenue growth",
  "Most revenue comes from Baidu itself, but China Mobile and state data centers are growing customers.",
  "Business", "CN", 3, "Baidu|Kunlunxin", "cap-ipo|cp-chip", "Baidu|Kunlunxin|prospectus",
  2, "first audited figures for a Chinese AI-chip designer of this size",
  2, "benchmarks Chinese accelerator economics")
A(61, "百度 unveils ERNIE 5.5, trained on a 30,000-chip Kunlun P800 cluster",
  "Baidu says ERNIE 5.5 matches leading Chinese models while trained only on in-house chips.",
  "Technology", "CN", 2, "百度", "fm-rel|cp-chip", "Baidu|ERNIE|Kunlun",
  2, "largest disclosed training run on Kunlun silicon",
  2, "supports Kunlunxin’s IPO story")

story("cohere-growth")
A(21, "Cohere raises $600 million, doubling its valuation to $14 billion",
  "The Canadian company says its North agent platform drives most new revenue, led by banks and governments.",
  "Business", "Global", 2, "Cohere", "cap-fund", "Cohere|funding|enterprise AI",
  1, "round matches earlier reports",
  2, "keeps an enterprise-only lab well funded")
A(43, "Cohere and Fujitsu sign a Japanese-language sovereign model deal for government agencies",
  "The models will run in Fujitsu data centers in Japan and be sold to ministries and local governments.",
  "Business", "JP", 2, "Cohere|Fujitsu", "ent-deal", "Cohere|Fujitsu|Japan|sovereign AI",
  2, "extends Cohere’s sovereign playbook into Japan",
  2, "opens the Japanese public sector to a non-US-big-tech lab")

story("hugging-face-scale")
A(25, "Hugging Face hits 3 million public models 🤗 as Chinese open weights top downloads",
  "Qwen and DeepSeek derivatives account for more than half of new fine-tunes uploaded this quarter.",
  "Technology", "Global", 2, "Hugging Face|Alibaba|DeepSeek", "fm-deb", "Hugging Face|open weights|Qwen",
  2, "quantifies the Chinese lead in open fine-tunes",
  1, "milestone, not a change in market structure")
A(49, "Hugging Face launches EU-hosted inference for open models with OVHcloud",
  "The service keeps data in EU data centers and targets AI Act-sensitive public-sector users.",
  "Business", "EU", 2, "Hugging Face|OVHcloud", "cp-cloud|ent-adopt", "Hugging Face|OVHcloud|EU|inference",
  2, "first EU-only managed endpoint from Hugging Face",
  1, "small share of European inference demand")

story("microsoft-mai")
A(23, "Microsoft releases MAI-2, reducing its reliance on OpenAI inside Copilot",
  "Microsoft AI’s second frontier model ranks in the top five on LMArena and is available in Copilot and Azure Foundry.",
  "Technology", "US", 3, "Microsoft|OpenAI", "fm-rel|ent-adopt", "Microsoft|MAI-2|Copilot",
  2, "first Microsoft model competitive with partners’ flagships",
  2, "weakens OpenAI’s leverage in the Microsoft relationship")
A(57, "Microsoft shifts 30% of Copilot traffic to in-house MAI models, internal memo shows",
  "The memo sets a goal of 50% by mid-2027 to cut inference costs.",
  "Business", "US", 2, "Microsoft|OpenAI", "ent-adopt|fm-case", "Microsoft|Copilot|MAI|OpenAI",
  3, "first hard number on Microsoft routing traffic away from OpenAI",
  2, "material for OpenAI’s largest distribution channel")

story("tsmc-capacity")
A(31, "TSMC third-quarter profit jumps 39% as AI accelerators reach 30% of revenue",
  "TSMC raised full-year growth guidance and said CoWoS packaging remains sold out.",
  "Business", "Global", 2, "TSMC|Nvidia", "cp-chip|cap-ipo", "TSMC|earnings|CoWoS",
  1, "beat in line with monthly sales data",
  2, "confirms AI demand at the foundry layer")
A(40, "TSMC starts 2nm risk production in Arizona for Apple and Nvidia",
  "The second Arizona fab moved forward by a year to meet US customer demand.",
  "Technology", "US", 2, "TSMC|Apple|Nvidia", "cp-chip", "TSMC|Arizona|2nm",
  2, "first leading-edge node produced in the US on schedule",
  2, "supports onshore supply of AI chips")
A(66, "TSMC lifts its 2027 CoWoS capacity target again as Nvidia, AMD and Google queue",
  "Capacity will reach about 140,000 wafers a month by end-2027, up from a previous 110,000 target.",
  "Business", "Global", 2, "TSMC|Nvidia|AMD", "cp-chip", "TSMC|CoWoS|packaging",
  1, "third upward revision in a year",
  3, "sets the ceiling on 2027 accelerator supply for the entire industry")

story("sarvam-indiaai")
A(19, "Sarvam AI releases a 120B-parameter Indic model under the IndiaAI Mission",
  "The open model covers 22 Indian languages and was trained on government-subsidised GPUs.",
  "Technology", "IN", 3, "Sarvam AI", "fm-rel", "Sarvam AI|IndiaAI|Indic languages",
  2, "India’s largest sovereign open model",
  2, "validates the IndiaAI subsidised-compute model")
A(47, "IndiaAI Mission allocates 18,000 more subsidised GPUs to Sarvam, Krutrim and Soket",
  "The new allocation doubles state-backed compute for Indian foundation-model builders.",
  "Policy", "IN", 2, "Sarvam AI|Krutrim", "cp-cloud|pol-reg", "IndiaAI|GPUs|subsidies",
  1, "tranche follows the programme’s announced schedule",
  2, "sustains India’s domestic model efforts")

story("naver-ai-factory")
A(14, "네이버 signs deal for 60,000 Nvidia Blackwell GPUs to build Korea’s largest AI factory",
  "The order, part of Korea’s national GPU programme with Nvidia, will run HyperCLOVA X training and sovereign cloud services.",
  "Technology", "KR", 3, "네이버|Nvidia", "cp-dc|cp-chip", "Naver|Nvidia|AI factory|Korea",
  2, "largest single GPU order by a Korean company",
  2, "anchors Korea’s sovereign AI compute")
A(39, "Naver Cloud wins a Thai government sovereign-cloud contract for HyperCLOVA X",
  "The deal follows Naver’s Saudi project and includes a Thai-language model.",
  "Business", "Global", 2, "Naver|Nvidia", "ent-deal|cp-cloud", "Naver|Thailand|sovereign cloud",
  2, "Naver’s second sovereign-AI export win",
  1, "modest contract value")

# --- stand-alone articles ---------------------------------------------------
solo()
A(65, "Nvidia beats third-quarter estimates with $65 billion in revenue as Rubin ramps",
  "Data-center revenue rose 60% and guidance topped forecasts despite zero China sales.",
  "Business", "Global", 3, "Nvidia", "cap-ipo|cp-chip", "Nvidia|earnings|Rubin",
  1, "beat-and-raise pattern for the eleventh straight quarter",
  3, "the bellwether result for AI capex across the market", hour=21, minute=20,
  join="nvidia-china-h200")
A(44, "Microsoft lifts fiscal 2027 capex guidance to $140 billion on AI demand",
  "Microsoft said Azure AI capacity stays short of demand through June.",
  "Business", "US", 2, "Microsoft", "cp-dc|cap-ipo", "Microsoft|capex|Azure",
  1, "capex raise was widely expected after peers’ calls",
  3, "the single largest corporate AI infrastructure budget")
A(45, "Amazon’s AWS growth re-accelerates to 22% on Anthropic Trainium demand",
  "AWS credited Project Rainier and new Trainium3 capacity for the acceleration.",
  "Business", "US", 2, "Amazon|Anthropic", "cp-cloud|cap-ipo", "Amazon|AWS|Trainium|earnings",
  1, "re-acceleration was guided last quarter",
  2, "shows custom silicon paying off for AWS")
A(None, "Intel wins Microsoft 18A foundry order for Maia 3 accelerators",
  "Microsoft will produce part of its next in-house AI chip on Intel’s 18A process in Arizona.",
  "Technology", "US", 2, "Intel|Microsoft", "cp-chip", "Intel|18A|Maia|foundry",
  2, "first hyperscaler AI accelerator on Intel’s leading node",
  2, "a credibility win for Intel Foundry")
A(None, "Arm unveils its own data-center AI chip with Meta as first customer",
  "The move puts Arm in competition with licensees such as Qualcomm and Nvidia.",
  "Technology", "Global", 3, "Arm|Meta|SoftBank", "cp-chip", "Arm|AI chips|Meta",
  3, "Arm selling finished silicon breaks its licensing-only model",
  2, "strains relations with Arm’s largest licensees")
A(None, "Cerebras prices its Nasdaq IPO at $28, raising $1.4 billion",
  "The wafer-scale chipmaker listed after resolving a US national-security review of its UAE investor.",
  "Business", "US", 2, "Cerebras", "cap-ipo|cp-chip", "Cerebras|IPO|Nasdaq",
  1, "IPO was delayed for over a year, not new",
  2, "first public AI-inference chip pure play")
A(None, "CoreWeave shares fall 12% after a delay at its Denton, Texas data center",
  "A contractor shortfall pushed back capacity for a major customer by a quarter.",
  "Business", "US", 1, "CoreWeave", "cap-ipo|cp-dc", "CoreWeave|data centers|delay",
  1, "construction delays have hit neoclouds before",
  1, "one-quarter slip at a single site")
A(None, "Scale AI cuts 200 jobs as labelling demand shifts to expert reinforcement-learning environments",
  "Scale said clients now want domain-expert RL environments rather than generic annotation.",
  "Business", "US", 2, "Scale AI", "data", "Scale AI|data labelling|layoffs",
  2, "clear signal that the data market is moving to RL environments",
  1, "limited to one vendor’s workforce")
A(None, "Anthropic interpretability team maps ‘deception features’ across three Claude generations",
  "The paper tracks internal features linked to misleading answers and finds they grow more separable in larger models.",
  "Research", "Global", 5, "Anthropic", "fm-safe", "Anthropic|interpretability|deception",
  3, "first cross-generation tracking of deception-linked features",
  1, "research result without deployment consequences yet")
A(None, "OpenAI and Apollo Research publish a chain-of-thought monitorability benchmark",
  "The benchmark scores how reliably a monitor can spot misbehaviour from a model’s reasoning trace.",
  "Research", "Global", 3, "OpenAI|Apollo Research", "fm-safe", "OpenAI|Apollo Research|chain of thought",
  2, "turns a safety argument into a measurable benchmark",
  1, "voluntary research tooling")
A(None, "Sakana AI’s ‘AI Scientist’ paper is accepted to a main conference track without human co-authors",
  "The paper, produced end to end by Sakana’s system, passed standard peer review; organisers disclosed its origin after acceptance.",
  "Research", "JP", 2, "Sakana AI", "fm-case|fm-deb", "Sakana AI|AI Scientist|peer review",
  3, "first fully AI-written paper accepted to a main track",
  1, "symbolic milestone; research economics unchanged")
A(None, "Preferred Networks unveils the MN-Core L1000 inference chip for Japanese LLMs",
  "The chip stacks DRAM directly on logic and targets PLaMo inference in Japanese data centers.",
  "Technology", "JP", 2, "Preferred Networks", "cp-chip", "Preferred Networks|MN-Core|inference chips",
  2, "novel 3D-stacked memory design",
  1, "small volumes outside Japan")
A(None, "LG AI Research open-sources EXAONE 4.5 with a one-million-token context",
  "The bilingual Korean-English model ships in 32B and 236B sizes.",
  "Technology", "KR", 2, "LG AI Research", "fm-rel", "LG|EXAONE|open weights",
  1, "incremental update to an established family",
  1, "limited reach beyond Korean users")
A(None, "Kakao reports 10 million weekly users of ChatGPT inside KakaoTalk",
  "The integration became Korea’s largest consumer AI channel within a year of launch.",
  "Business", "KR", 1, "Kakao|OpenAI", "ent-adopt", "Kakao|ChatGPT|KakaoTalk",
  1, "user milestone of a known integration",
  1, "no change in competitive position")
A(None, "Samsung signs Perplexity to power answers in Bixby on Galaxy devices",
  "Perplexity’s models will answer web queries in Bixby alongside Gemini, which remains the default assistant.",
  "Business", "KR", 2, "Samsung|Perplexity|Google DeepMind", "ent-deal", "Samsung|Perplexity|Bixby",
  2, "a second model vendor on Galaxy breaks Google’s exclusivity",
  2, "distribution win for Perplexity on hundreds of millions of phones")
A(None, "Rebellions raises ₩350 billion pre-IPO round ahead of a KOSPI listing",
  "The Korean inference-chip maker said its merged entity with Sapeon is now profitable on a quarterly basis.",
  "Business", "KR", 2, "Rebellions", "cap-fund|cp-chip", "Rebellions|AI chips|pre-IPO",
  1, "round was pre-announced",
  1, "small relative to global chip funding")
A(None, "FuriosaAI lands an LG AI Research order for RNGD inference servers",
  "LG will run EXAONE inference on RNGD servers in its own data center.",
  "Business", "KR", 2, "FuriosaAI|LG AI Research", "cp-chip|ent-deal", "FuriosaAI|RNGD|LG",
  2, "first large domestic customer for Furiosa",
  1, "modest order size")
A(None, "Huawei unveils an Ascend roadmap with in-house HBM, bypassing Korean memory suppliers",
  "Huawei said its next Ascend generation will use self-developed high-bandwidth memory from 2027.",
  "Technology", "CN", 3, "Huawei|SK hynix|Samsung", "cp-chip|pol-trade", "Huawei|Ascend|HBM|China",
  3, "first Chinese in-house HBM for flagship accelerators",
  3, "removes a key chokepoint in US export controls")
A(None, "SMIC doubles its 7nm capacity for domestic AI chips",
  "The expansion serves Huawei, Cambricon and Kunlunxin orders.",
  "Business", "CN", 2, "SMIC|Huawei|Cambricon", "cp-chip|pol-trade", "SMIC|7nm|China",
  1, "expansion tracked by equipment imports for months",
  2, "lifts China’s domestic accelerator ceiling")
A(None, "Tencent launches Hunyuan 3 and trims capex guidance, citing chip supply",
  "Tencent said it is prioritising inference over training while domestic chips remain scarce.",
  "Business", "CN", 2, "Tencent", "fm-rel|cp-dc", "Tencent|Hunyuan|capex",
  2, "capex cut contrasts with peers’ increases",
  2, "signals chip supply constraints in China")
A(None, "China’s CAC enforces mandatory AI content labels as platforms remove 1.2 million unlabelled posts",
  "Douyin, Weibo and Xiaohongshu reported the removals in the first month of enforcement.",
  "Policy", "CN", 1, "ByteDance|Tencent", "pol-reg", "China|CAC|AI labels",
  1, "enforcement of rules issued last year",
  1, "compliance churn with little market effect")
A(None, "Xiaomi open-sources MiMo-V2 reasoning model for phones and cars",
  "The 7B model runs on Xiaomi’s phone chips and in-car systems.",
  "Technology", "CN", 2, "Xiaomi", "fm-rel", "Xiaomi|MiMo|on-device",
  2, "car-and-phone deployment target is unusual for open weights",
  1, "small model with limited ecosystem impact")
A(None, "Zhipu AI releases GLM-5 open weights under an MIT licence",
  "The listed Chinese lab says GLM-5 leads open models on tool use.",
  "Technology", "CN", 2, "Zhipu AI", "fm-rel|fm-deb", "Zhipu AI|GLM-5|open weights",
  1, "expected follow-up in a crowded field",
  2, "another strong permissively licensed Chinese model")
A(None, "MiniMax’s Hailuo 03 video model adds native sound and two-minute clips",
  "MiniMax says Hailuo 03 is its first model trained with licensed stock-music data.",
  "Technology", "CN", 2, "MiniMax", "fm-rel|data", "MiniMax|Hailuo|video models",
  2, "licensed audio training is new for a Chinese video model",
  1, "incremental in a fast-moving category")
A(None, "Aleph Alpha’s PhariaAI wins German federal administration roll-out",
  "The federal IT service ITZBund will run Pharia models across ministries.",
  "Business", "EU", 2, "Aleph Alpha", "ent-deal", "Aleph Alpha|Germany|public sector",
  2, "largest public-sector win for a German AI firm",
  1, "domestic contract with limited wider effect")
A(None, "DeepL launches a back-office agent that works in 33 languages",
  "DeepL Agent now handles invoice processing and customer email triage for European firms.",
  "Business", "EU", 2, "DeepL", "ent-adopt", "DeepL|agents|Europe",
  2, "translation specialist moving into general agents",
  1, "crowded market, modest impact")
A(None, "Black Forest Labs raises $300 million at a $3.25 billion valuation",
  "The Freiburg image-model lab will expand its FLUX licensing business with Adobe and Meta.",
  "Business", "EU", 2, "Black Forest Labs", "cap-fund", "Black Forest Labs|funding|image models",
  1, "follow-on round in line with reports",
  1, "mid-sized round")
A(None, "ElevenLabs crosses $500 million in annual recurring revenue and eyes a 2027 IPO",
  "The voice-AI company said enterprise agents now provide most of its revenue.",
  "Business", "UK", 2, "ElevenLabs", "cap-fund|cap-ipo", "ElevenLabs|ARR|IPO",
  1, "growth trajectory already public",
  2, "a likely first European AI-native IPO")
A(None, "UK CMA imposes conduct rules on Google’s AI Overviews, giving publishers an opt-out",
  "Under its strategic market status powers, the CMA requires Google to let publishers withhold content from AI Overviews without losing search ranking.",
  "Policy", "UK", 3, "Google Cloud|Google DeepMind", "pol-reg|data", "CMA|Google|AI Overviews|publishers",
  2, "first binding AI-specific conduct rule under the UK’s digital markets regime",
  3, "changes how Google can use publisher content in AI answers")
A(None, "France’s CNIL confirms legitimate interest can justify training on public web data",
  "The guidance requires opt-out mechanisms and filtering of sensitive data.",
  "Policy", "EU", 2, "Mistral AI", "data|pol-reg", "CNIL|GDPR|training data",
  1, "formalises draft guidance from last year",
  2, "legal basis for web-scale training in France")
A(None, "Munich appeals court hears OpenAI’s challenge to the GEMA lyrics ruling",
  "OpenAI argues memorised lyrics are a rare bug, not reproduction by the model.",
  "Policy", "EU", 3, "OpenAI", "data|pol-lit", "OpenAI|GEMA|lyrics|Germany",
  1, "appeal hearing of a known case",
  2, "outcome shapes memorisation liability in the EU")
A(None, "Samsung’s Montréal lab releases a 12M-parameter recursive model that tops an ARC efficiency board",
  "The tiny recursive model solves puzzles for under a cent per task.",
  "Research", "Global", 3, "Samsung", "fm-rel|fm-deb", "Samsung|recursive models|ARC",
  3, "tiny-model result challenges the scale-first consensus",
  1, "no commercial application yet")
A(None, "Runway licenses its world model to a Formula 1 team for aerodynamics simulation",
  "The team uses Runway’s model to generate airflow visualisations between wind-tunnel runs.",
  "Business", "UK", 2, "Runway", "ent-deal|fm-case", "Runway|world models|Formula 1",
  3, "first motorsport use of a generative world model",
  1, "niche deployment")
A(None, "Mistral AI’s Le Chat adds Breton & Occitan, a first for a commercial assistant",
  "Mistral worked with regional language offices on evaluation sets.",
  "Technology", "EU", 1, "Mistral AI", "fm-rel", "Mistral AI|Le Chat|regional languages",
  3, "first commercial assistant supporting French regional languages",
  1, "symbolic reach")
A(None, "Upstage launches a document-AI agent that files Korean tax returns end to end",
  "The agent reads receipts and payslips and submits filings through Hometax with user approval.",
  "Technology", "KR", 2, "Upstage", "ent-adopt|fm-case", "Upstage|document AI|tax|agents",
  3, "first agent to complete a government filing unattended in Korea",
  1, "consumer niche ahead of the filing season")
A(None, "xAI’s Grokipedia adds citations to Wikipedia after editor backlash",
  "Articles copied from Wikipedia now credit their source under its licence.",
  "Technology", "US", 1, "xAI", "data", "xAI|Grokipedia|Wikipedia|licensing",
  2, "reversal on attribution practice",
  1, "small effect outside the platform")
A(None, "Apple acquires a computer-vision startup to speed up Vision Pro scene models",
  "The team of 40 will work on on-device scene understanding.",
  "Business", "US", 1, "Apple", "cap-ma", "Apple|acquisition|computer vision",
  1, "routine acqui-hire",
  1, "small deal")
A(None, "Salesforce makes Claude the default model in Agentforce for regulated industries",
  "Financial and healthcare customers get Claude by default inside Salesforce’s trust boundary.",
  "Business", "US", 2, "Salesforce|Anthropic", "ent-deal", "Salesforce|Anthropic|Agentforce",
  1, "extends an existing partnership",
  2, "meaningful enterprise distribution for Anthropic")
A(None, "JPMorgan Chase rolls out its in-house LLM suite to 250,000 employees",
  "The bank says employees save two hours a week on average.",
  "Business", "US", 1, "JPMorgan Chase", "ent-adopt", "JPMorgan|banking|enterprise AI",
  1, "expansion of a known programme",
  1, "single-firm deployment")
A(None, "Société Générale deploys Mistral AI models to 120,000 staff",
  "The French bank runs the models on-premise for compliance and coding tasks.",
  "Business", "EU", 1, "Mistral AI|Société Générale", "ent-adopt|ent-deal", "Mistral AI|banking|France",
  1, "expansion of a pilot",
  1, "single-customer deployment")
A(None, "Siemens & Microsoft expand Industrial Copilot to 1,000 factories",
  "The expansion adds agents that write PLC code and schedule maintenance.",
  "Business", "EU", 2, "Siemens|Microsoft", "ent-deal|ent-adopt", "Siemens|Microsoft|industrial AI",
  1, "scale-up of an existing product",
  1, "incremental")
A(None, "Hyundai Motor signs an Nvidia deal for a 50,000-GPU physical-AI cluster",
  "The cluster will train driving and robotics models for Hyundai and Boston Dynamics.",
  "Business", "KR", 2, "Hyundai Motor|Nvidia", "cp-dc|ent-deal", "Hyundai|Nvidia|physical AI|robotics",
  2, "largest physical-AI compute commitment by an automaker",
  2, "anchors Korean demand for Blackwell systems")
A(None, "SK Telecom and AWS switch on the first 100MW of the Ulsan AI data center",
  "The campus is planned to reach 1GW by 2030.",
  "Technology", "KR", 2, "SK Telecom|Amazon", "cp-dc", "SK Telecom|AWS|Ulsan",
  1, "milestone of a known project",
  2, "Korea’s largest AI campus comes online")
A(None, "Tata Consultancy Services commits $6.5 billion to a 1GW Indian AI data-center platform",
  "TCS will build the capacity with a financial partner and lease it to hyperscalers and Indian labs.",
  "Business", "IN", 2, "Tata Consultancy Services", "cp-dc|cap-fund", "TCS|data centers|India",
  2, "IT-services firm becoming a capacity owner",
  2, "expands India’s AI compute base")
A(None, "OpenAI makes ChatGPT Go free for Indian students through 2027",
  "Students verified through a government ID scheme get the paid tier at no cost.",
  "Business", "IN", 1, "OpenAI", "ent-adopt", "OpenAI|ChatGPT Go|India|education",
  2, "largest national free-access offer by OpenAI",
  1, "user growth without revenue")
A(None, "India’s MeitY notifies rules requiring visible labels on AI-generated media",
  "Platforms must label synthetic media covering at least a tenth of the frame.",
  "Policy", "IN", 2, "Meta|Google Cloud", "pol-reg", "MeitY|India|deepfakes|labels",
  1, "final rules close to the draft",
  2, "applies to every major platform in India")
A(None, "Japan adds ¥800 billion for Rapidus’ 2nm line to make AI chips",
  "The subsidy brings state support for Rapidus to more than ¥2.5 trillion.",
  "Policy", "JP", 2, "Rapidus", "cp-chip|pol-reg", "Rapidus|Japan|2nm|subsidies",
  1, "tranche of a long-planned subsidy",
  2, "keeps Japan’s leading-edge fab effort alive")
A(None, "NTT launches tsuzumi 2 for Japanese enterprises on a single GPU",
  "The lightweight model targets on-premise use in banks and hospitals.",
  "Technology", "JP", 1, "NTT", "fm-rel|ent-adopt", "NTT|tsuzumi|Japan",
  1, "incremental model update",
  1, "domestic niche")
A(None, "Anthropic opens its Seoul office and signs SK Telecom as an anchor customer",
  "Seoul becomes Anthropic’s third Asia-Pacific office after Tokyo and Bengaluru.",
  "Business", "KR", 1, "Anthropic|SK Telecom", "ent-deal", "Anthropic|Seoul|SK Telecom",
  1, "office opening announced earlier",
  1, "limited immediate impact")
A(None, "OpenAI releases gpt-oss-2 open-weight models under Apache 2.0",
  "The 40B and 200B models add tool use and multimodal input.",
  "Technology", "Global", 2, "OpenAI", "fm-rel|fm-deb", "OpenAI|gpt-oss|open weights",
  2, "second OpenAI open release while Meta retreats",
  2, "keeps a US lab competitive in open weights")
A(None, "Anthropic releases Claude Opus 5 with agent teams and a one-million-token context",
  "Opus 5 coordinates sub-agents on long coding tasks and leads SWE-bench Pro.",
  "Technology", "Global", 3, "Anthropic", "fm-rel", "Anthropic|Claude Opus 5|agents",
  2, "agent teams are new as a first-party feature",
  3, "lifts the frontier for coding agents used across enterprises")
A(None, "OpenAI launches GPT-5.5 with a built-in agent marketplace",
  "Developers can sell agents inside ChatGPT with a revenue share.",
  "Technology", "Global", 3, "OpenAI", "fm-rel|ent-adopt", "OpenAI|GPT-5.5|agents|marketplace",
  2, "marketplace model is new for ChatGPT",
  3, "creates a distribution platform for agent builders")
A(None, "Perplexity signs revenue-share deals with Le Monde, El País & Der Spiegel",
  "Publishers get a share of subscription revenue when their articles are cited.",
  "Business", "EU", 2, "Perplexity", "data|ent-deal", "Perplexity|publishers|licensing",
  2, "first multi-country European publisher package",
  2, "adds to pay-per-citation norms in news licensing")
A(None, "Universal Music and Udio launch a licensed AI music platform",
  "Artists opt in and receive royalties when their styles are used.",
  "Business", "Global", 2, "Udio|Universal Music Group", "data|ent-deal", "Udio|Universal Music|licensing",
  2, "first major-label licensed generation service live",
  2, "template for music licensing across generative audio")
A(None, "Cloudflare starts charging AI crawlers per request on one million sites",
  "Pay-per-crawl is now on by default for new sites on paid plans.",
  "Technology", "Global", 2, "Cloudflare", "data", "Cloudflare|AI crawlers|pay per crawl",
  2, "default-on paid crawling at scale",
  2, "raises data costs for model training and retrieval")
A(None, "Nvidia acquires an Israeli AI networking startup for $700 million",
  "The deal adds optical interconnect engineers to Nvidia’s networking unit.",
  "Business", "Global", 1, "Nvidia", "cap-ma|cp-chip", "Nvidia|acquisition|networking",
  1, "small tuck-in deal",
  1, "minor for Nvidia’s scale")
A(None, "Qualcomm ships its first AI200 racks to Saudi Arabia’s Humain",
  "The initial 200MW deployment is Qualcomm’s first data-center AI revenue.",
  "Business", "Global", 2, "Qualcomm|Humain", "cp-chip|cp-dc", "Qualcomm|AI200|Humain|Saudi Arabia",
  1, "delivery of an announced order",
  1, "small share of the accelerator market")
A(None, "Broadcom books a $10 billion custom-chip order from OpenAI for 2027",
  "The order covers OpenAI’s first in-house inference accelerator.",
  "Business", "US", 2, "Broadcom|OpenAI", "cp-chip", "Broadcom|OpenAI|custom silicon",
  1, "order size consistent with last year’s announcement",
  2, "moves OpenAI toward its own silicon")
A(None, "Isomorphic Labs signs a third pharma partner for its AlphaFold-based drug design",
  "The deal with a European drugmaker includes $80 million upfront.",
  "Business", "UK", 2, "Isomorphic Labs|Google DeepMind", "ent-deal", "Isomorphic Labs|drug discovery|AlphaFold",
  1, "follows two similar deals",
  1, "incremental")
A(None, "Judge trims xAI’s trade-secrets suit against OpenAI to claims against two former engineers",
  "The court dismissed claims that OpenAI itself induced the alleged theft.",
  "Policy", "US", 2, "xAI|OpenAI", "pol-lit", "xAI|OpenAI|trade secrets",
  1, "narrowing was expected from earlier hearings",
  1, "limited exposure for OpenAI")
A(None, "Anthropic’s Claude Code reaches a $3 billion revenue run-rate",
  "Claude Code now accounts for about a fifth of Anthropic revenue.",
  "Business", "Global", 1, "Anthropic", "ent-adopt", "Anthropic|Claude Code|revenue",
  1, "growth consistent with earlier disclosures",
  2, "coding agents become a major revenue line")
A(None, "Anysphere raises at a $50 billion valuation as Cursor passes $2 billion ARR",
  "The round is led by existing investors and includes employee liquidity.",
  "Business", "US", 2, "Anysphere", "cap-fund", "Anysphere|Cursor|funding",
  1, "valuation step-up already reported",
  2, "sets the price for AI application-layer companies")
A(None, "Thinking Machines Lab releases its first open-weights model",
  "The model ships with Tinker fine-tuning recipes and a research report.",
  "Technology", "US", 2, "Thinking Machines Lab", "fm-rel|fm-deb", "Thinking Machines|open weights",
  2, "debut model from a heavily funded lab",
  2, "adds a US open-weights option")
A(None, "Ai2 releases OLMo 4 with full training data and checkpoints",
  "The fully open model reaches parity with leading open-weights models of similar size.",
  "Research", "US", 2, "Ai2", "fm-deb|data", "Ai2|OLMo|open source",
  2, "fully open model closing the gap to open-weights peers",
  1, "research impact, small commercial share")
A(None, "Samsung SDS wins a ₩2 trillion bid for Korea’s national AI computing center",
  "The center in Jeollanam-do will host 15,000 GPUs for universities and startups.",
  "Business", "KR", 2, "Samsung", "cp-dc|pol-reg", "Samsung SDS|Korea|national AI center",
  1, "winner was the favourite",
  2, "core public compute for Korean researchers")
A(None, "Apple Intelligence launches in China with Alibaba models after regulatory approval",
  "The CAC approved Apple’s partnership with Alibaba more than a year after it was announced.",
  "Policy", "CN", 2, "Apple|Alibaba", "pol-reg|ent-deal", "Apple|Alibaba|China|approval",
  2, "approval follows long regulatory limbo",
  2, "unlocks AI features for Apple’s China market")
story("caisi-incident-reporting")
A(39, "OpenAI, Anthropic and Google agree to share frontier-model incident reports through CAISI",
  "The agreement covers cyber and bio misuse and near-miss incidents, reported within 72 hours.",
  "Policy", "US", 3, "OpenAI|Anthropic|Google DeepMind", "fm-safe|pol-reg", "CAISI|incident reporting|AI safety",
  3, "first cross-lab incident-sharing commitment with a US agency",
  3, "creates an industry-wide safety reporting channel")
solo()
A(None, "Meta’s Vibes feed reaches 100 million monthly users",
  "The AI-video feed grew mostly through Instagram cross-promotion.",
  "Business", "US", 1, "Meta", "ent-adopt", "Meta|Vibes|AI video",
  1, "usage milestone",
  1, "consumer novelty with no monetisation yet")
A(None, "Amazon’s Alexa+ now books vet and salon appointments on its own",
  "Alexa+ completes bookings through partner apps without the user opening them.",
  "Technology", "US", 1, "Amazon", "ent-adopt", "Amazon|Alexa+|agents",
  2, "new autonomous task class for a consumer assistant",
  1, "narrow feature")
A(None, "Wikimedia Enterprise signs paid API deals with Amazon & Meta",
  "The deals replace bulk scraping with metered access for AI training and retrieval.",
  "Business", "Global", 1, "Wikimedia Enterprise|Amazon|Meta", "data|ent-deal", "Wikipedia|data licensing|API",
  2, "Wikipedia monetising AI access at scale",
  1, "modest revenue")

# --- long titles in the final week (exercise length limits) -----------------
A(64, "Samsung Electronics confirms it will supply HBM4E memory to Nvidia, AMD and Google for 2027 accelerators while adding a fourth Pyeongtaek line and locking in multi-year wafer prices",
  "Samsung said HBM4E samples passed customer tests and that long-term agreements now cover most of its 2027 output.",
  "Business", "KR", 4, "Samsung|Nvidia|AMD", "cp-chip", "Samsung|HBM4E|Pyeongtaek|memory",
  2, "first HBM4E commitments to all three major accelerator buyers",
  3, "locks memory supply for most 2027 AI accelerators", join="hbm4-race")
A(67, "Anthropic, OpenAI and Google DeepMind agree to a joint incident-reporting protocol with the US Center for AI Standards and Innovation covering cyber, bio and autonomous replication risks",
  "The protocol formalises the voluntary pledge with common severity levels and a 24-hour notice for critical incidents.",
  "Policy", "US", 5, "Anthropic|OpenAI|Google DeepMind", "fm-safe|pol-reg", "CAISI|incident reporting|protocol",
  2, "turns an earlier pledge into a detailed protocol",
  3, "shared reporting standard for the three leading US labs", join="caisi-incident-reporting")
A(68, "Alibaba’s Qwen team releases an open-weights 2-trillion-parameter mixture-of-experts model with a four-million-token context, trained entirely on domestic Chinese accelerators",
  "Alibaba says the model was trained on its own T-Head chips and Huawei Ascend clusters without any Nvidia hardware.",
  "Technology", "CN", 4, "Alibaba|Huawei", "fm-rel|cp-chip|fm-deb", "Alibaba|Qwen|open weights|domestic chips",
  3, "largest open model ever, trained without Nvidia hardware",
  3, "proves China can train frontier-scale open models on domestic silicon", join="alibaba-qwen")


# ---------------------------------------------------------------------------
# Subscribers: SUB(email, name, companies, segments, timezone, send_day,
#   send_hour, frequency, max_articles, language); lists use ';'. max_articles=None means
#   "use the default" (empty cell); language "" means DIGEST_DEFAULT_LANGUAGE.
# ---------------------------------------------------------------------------
SUB("ana@example.com", "Ana Kim", "xAI;OpenAI", "Data & IP", "Asia/Seoul", "mon", 8, "weekly", 8)
SUB("minjun.kim@example.com", "김민준", "네이버;Samsung;Upstage", "Policy · Regulation", "Asia/Seoul", "mon", 8, "weekly", 6, "ko")
SUB("seoyeon.lee@example.org", "이서연", "바이트댄스", "", "Asia/Seoul", "mon", 7, "weekly", 5, "ko")
SUB("jihoon.park@example.net", "박지훈", "", "Compute", "Asia/Seoul", "mon", 7, "daily", 4, "ko")
SUB("yujin.choi@example.com", "최유진", "Naver;Kakao;LG AI Research;Upstage;SK Telecom", "Policy · Regulation", "Asia/Seoul", "mon", 8, "weekly", 10, "ko")
SUB("maria.fernandez@example.com", "María José Fernández", "Mistral AI", "Policy", "Europe/Madrid", "mon", 8, "weekly", 6)
SUB("juergen.weiss@example.net", "Jürgen Weiß", "Aleph Alpha;Mistral AI;SAP", "Policy · Regulation;Data & IP", "Europe/Berlin", "mon", 8, "weekly", 8)
SUB("layla.haddad@example.org", "ليلى حداد", "OpenAI;Anthropic", "Foundation Models · Safety", "Asia/Dubai", "mon", 8, "weekly", 6)
SUB("priya.raghunathan@example.com", "Priya Raghunathan", "Sarvam AI;Reliance Industries;OpenAI", "Enterprise", "Asia/Kolkata", "mon", 8, "weekly", 8)
SUB("aarav.mehta@example.net", "Aarav Mehta", "", "Policy", "Asia/Kolkata", "mon", 9, "weekly", 3)
SUB("bikash.shrestha@example.net", "Bikash Shrestha", "", "Foundation Models · Releases", "Asia/Kathmandu", "mon", 8, "weekly", 7)
SUB("siobhan.walsh@example.org", "Siobhán Walsh", "Anthropic", "Foundation Models · Safety", "America/St_Johns", "mon", 8, "weekly", 5)
SUB("teuila@example.net", "Teuila Fa'amausili", "Nvidia;AMD", "Compute · Chips", "Pacific/Pago_Pago", "mon", 6, "daily", 3)
SUB("tebwa.tekeraoi@example.org", "Tebwa Tekeraoi", "Google DeepMind", "Foundation Models", "Pacific/Kiritimati", "mon", 8, "weekly", 8)
SUB("olivia.bennett@example.com", "Olivia Bennett", "Anthropic;Amazon;Microsoft;Google DeepMind;OpenAI;Meta;Nvidia;xAI", "Capital;Compute;Foundation Models", "Australia/Sydney", "mon", 8, "weekly", 12)
SUB("haruka.tanaka@example.org", "Haruka Tanaka", "SoftBank;Sakana AI;Preferred Networks", "Enterprise · Deals", "Asia/Tokyo", "mon", 9, "weekly", 6, "ja")
SUB("aiko.yamamoto@example.net", "山本愛子", "Cohere;SoftBank;OpenAI", "Enterprise · Deals", "Asia/Tokyo", "mon", 8, "weekly", 7, "ja")
SUB("joao.souza@example.com", "João Pedro Souza", "", "Capital · Funding;Capital · M&A", "America/Sao_Paulo", "mon", 8, "weekly", None)
SUB("mateus.oliveira@example.org", "Mateus Oliveira", "DeepSeek;Alibaba;Moonshot AI", "Foundation Models · Releases", "America/Sao_Paulo", "mon", 9, "daily", 5)
SUB("emily.carter@example.com", "Emily Carter", "OpenAI;Microsoft;Nvidia", "Capital · Public Markets", "America/New_York", "mon", 7, "daily", 5)
SUB("rachel.goldberg@example.net", "Rachel Goldberg", "OpenAI", "Policy · Litigation;Data & IP", "America/New_York", "mon", 8, "weekly", 8)
SUB("daniel.okafor@example.com", "Daniel Okafor", "Anthropic;OpenAI;xAI;Meta", "", "America/Los_Angeles", "mon", 8, "weekly", 10)
SUB("hamid.rahimi@example.org", "Hamid Rahimi", "Perplexity;Amazon", "Policy · Litigation", "America/Los_Angeles", "mon", 8, "weekly", 5)
SUB("sofia.martinez@example.net", "Sofía Martínez", "Meta;Google DeepMind", "Enterprise · Adoption", "America/Mexico_City", "tue", 8, "weekly", 6)
SUB("chloe.dubois@example.com", "Chloé Dubois", "Mistral AI;Hugging Face", "Foundation Models · Open Debates;Data & IP", "Europe/Paris", "mon", 8, "weekly", 8)
SUB("oliver.hughes@example.org", "Oliver Hughes", "Nscale;ElevenLabs;Stability AI;Getty Images", "Policy · Litigation", "Europe/London", "fri", 17, "weekly", 6)
SUB("wei.zhang@example.net", "张伟", "百度;Alibaba;DeepSeek;ByteDance", "", "Asia/Shanghai", "mon", 8, "weekly", 9)
SUB("meiling.lin@example.com", "Lin Mei-ling", "TSMC;Nvidia", "Compute · Chips;Compute · Data Centers", "Asia/Taipei", "mon", 8, "weekly", 6)
SUB("lan.nguyen@example.org", "Nguyễn Thị Lan", "Samsung;SK hynix;TSMC", "Compute", "Asia/Ho_Chi_Minh", "mon", 8, "weekly", None)
SUB("lars.berg@example.net", "Lars Øyvind Berg", "", "Foundation Models · Safety;Policy · Regulation", "Europe/Oslo", "mon", 6, "weekly", 5)
SUB("fatima.bello@example.com", "Fatima Bello", "Microsoft;Cohere", "Enterprise", "Africa/Lagos", "wed", 8, "weekly", 6)
SUB("ingrid.johansson@example.org", "Ingrid Johansson", "Anthropic;Google DeepMind", "Foundation Models · Safety", "Europe/Stockholm", "thu", 7, "weekly", 4)
SUB("marek.nowak@example.net", "Marek Nowak", "Hugging Face", "Foundation Models · Open Debates", "Europe/Warsaw", "mon", 8, "weekly", 4)
SUB("noah.schmidt@example.com", "Noah Schmidt", "OpenAI;Anthropic;Google DeepMind;Meta;Mistral AI;DeepSeek;Alibaba;ByteDance;바이트댄스;Nvidia;AMD;TSMC", "Data & IP;Policy;Capital · Funding", "Europe/Berlin", "sun", 8, "weekly", 12)


if __name__ == "__main__":
    main()
