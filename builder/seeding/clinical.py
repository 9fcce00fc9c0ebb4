"""Clinical free text that reads like a clinic's own: allergies, diagnoses, follow-up outcomes.

Faker's sentences are fine for a street but not for an allergy ("下载部门社会只有资源."),
and a demo is judged by what a doctor reads on the first record. A field whose name or
label says what it holds gets short, plausible phrases in the app's language.
"""

from __future__ import annotations

import random

from engines.forms import FieldSpec

from .meaning import per_field

# kind -> (name fragments, Chinese label fragments, English label words)
_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "allergy": (("allerg",), ("过敏",), ("allerg",)),
    "diagnosis": (("diagnos", "condition"), ("诊断", "病情"), ("diagnos", "condition")),
    "outcome": (("outcome", "result", "feedback"), ("结果", "反馈", "结论"), ("outcome", "result")),
    "reason": (
        ("reason", "purpose", "complaint", "symptom"),
        ("原因", "事由", "主诉", "症状"),
        ("reason", "complaint"),
    ),
    "note": (("note", "remark", "comment", "advice", "plan"), ("备注", "医嘱", "建议", "计划"), ("note", "advice")),
}

_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "allergy": {
        "zh": (
            "青霉素过敏",
            "头孢类药物过敏",
            "海鲜过敏",
            "花粉过敏",
            "无已知过敏史",
            "磺胺类药物过敏",
            "尘螨过敏",
        ),
        "en": (
            "Penicillin",
            "Cephalosporins",
            "Shellfish",
            "Pollen",
            "No known allergies",
            "Sulfa drugs",
            "Dust mites",
        ),
    },
    "diagnosis": {
        "zh": ("原发性高血压", "2型糖尿病", "上呼吸道感染", "慢性胃炎", "腰椎间盘突出", "高脂血症", "过敏性鼻炎"),
        "en": (
            "Essential hypertension",
            "Type 2 diabetes",
            "Upper respiratory infection",
            "Chronic gastritis",
            "Lumbar disc herniation",
            "Hyperlipidaemia",
            "Allergic rhinitis",
        ),
    },
    "outcome": {
        "zh": (
            "电话随访，恢复良好",
            "血压控制平稳，继续用药",
            "症状缓解，两周后复诊",
            "未接通，稍后再联系",
            "已预约复诊",
        ),
        "en": (
            "Called: recovering well",
            "Blood pressure stable, same medication",
            "Symptoms eased, review in two weeks",
            "No answer, will call again",
            "Follow-up visit booked",
        ),
    },
    "reason": {
        "zh": ("术后复查", "血压复测", "用药调整", "定期随访", "检查结果解读", "咳嗽三天", "腰痛一周"),
        "en": (
            "Post-operative check",
            "Blood pressure re-check",
            "Medication review",
            "Routine follow-up",
            "Test results",
            "Cough for three days",
            "Low back pain for a week",
        ),
    },
    "note": {
        "zh": (
            "低盐饮食，规律服药",
            "注意休息，多饮水",
            "每日监测血压并记录",
            "适量运动，控制体重",
            "如有不适及时就诊",
        ),
        "en": (
            "Low-salt diet, take medication regularly",
            "Rest and drink plenty of water",
            "Measure blood pressure daily and log it",
            "Regular exercise, watch weight",
            "Come back if symptoms get worse",
        ),
    },
}


@per_field
def clinical_kind(name: str, spec: FieldSpec) -> str | None:
    """Which kind of clinical text the field holds, from its name or labels (None: not clinical)."""
    label = spec.label
    labels = [] if label is None else ([label] if isinstance(label, str) else list(label.values()))
    lowered = [text.lower() for text in labels]
    for kind, (fragments, chinese, english) in _KINDS.items():
        if any(f in name for f in fragments):
            return kind
        if any(c in text for text in lowered for c in chinese) or any(e in text for text in lowered for e in english):
            return kind
    return None


def clinical_text(kind: str, chinese: bool, rng: random.Random) -> str:
    """One plausible phrase of `kind`, in Chinese or English."""
    return rng.choice(_PHRASES[kind]["zh" if chinese else "en"])
