"""The words of sign-in, refusals and the audit log, in every supported language."""

from builder.web.i18n import register_texts

register_texts(
    {
        "security.username": {"en": "User name", "zh-CN": "用户名"},
        "security.password": {"en": "Password", "zh-CN": "密码"},
        "security.login_title": {"en": "Sign in", "zh-CN": "登录"},
        "security.login_failed": {"en": "Wrong user name or password.", "zh-CN": "用户名或密码错误。"},
        "security.login_missing": {"en": "Enter your user name and password.", "zh-CN": "请输入用户名和密码。"},
        "security.throttled": {
            "en": "Too many failed sign-in attempts. Try again in {minutes} minutes.",
            "zh-CN": "登录失败次数过多，请 {minutes} 分钟后再试。",
        },
        "security.signed_out": {"en": "You have been signed out.", "zh-CN": "您已退出登录。"},
        "security.csrf": {
            "en": "This form has expired or did not come from this site. Reload the page and try again.",
            "zh-CN": "表单已过期或并非来自本站，请刷新页面后重试。",
        },
        "security.forbidden": {"en": "You do not have permission to see this page.", "zh-CN": "您无权查看此页面。"},
        "security.not_authenticated": {"en": "Please sign in.", "zh-CN": "请先登录。"},
        "security.invalid_token": {"en": "The API token is invalid or revoked.", "zh-CN": "API 令牌无效或已被撤销。"},
        "security.too_large": {"en": "The request is too large.", "zh-CN": "请求内容过大。"},
        "security.form_too_large": {
            "en": "This form is too large to be sent. Use your browser's Back button (what you typed is usually "
            "still there), shorten the longest text and save again.",
            "zh-CN": "表单内容过大，无法提交。请点击浏览器的“返回”按钮（已填写的内容通常仍在），"
            "缩短最长的文字后再保存。",
        },
        "security.bad_request": {"en": "The request could not be understood.", "zh-CN": "无法理解该请求。"},
        "security.error_title": {"en": "Request refused", "zh-CN": "请求被拒绝"},
        "security.back": {"en": "Back to the start page", "zh-CN": "返回首页"},
        "security.large_text_on": {"en": "Large text: on", "zh-CN": "大字体：开"},
        "security.large_text_off": {"en": "Large text: off", "zh-CN": "大字体：关"},
        "audit.title": {"en": "Audit log", "zh-CN": "审计日志"},
        "audit.at": {"en": "Time", "zh-CN": "时间"},
        "audit.actor": {"en": "User", "zh-CN": "用户"},
        "audit.role": {"en": "Role", "zh-CN": "角色"},
        "audit.address": {"en": "Address", "zh-CN": "地址"},
        "audit.action": {"en": "Action", "zh-CN": "操作"},
        "audit.entity": {"en": "Entity", "zh-CN": "实体"},
        "audit.record_id": {"en": "Record", "zh-CN": "记录"},
        "audit.changes": {"en": "Changes", "zh-CN": "变更"},
        "audit.detail": {"en": "Detail", "zh-CN": "详情"},
        "audit.date_from": {"en": "From", "zh-CN": "起始日期"},
        "audit.date_to": {"en": "To", "zh-CN": "截止日期"},
        "audit.filter": {"en": "Filter", "zh-CN": "筛选"},
        "audit.reset": {"en": "Clear filters", "zh-CN": "清除筛选"},
        "audit.empty": {"en": "No entries match.", "zh-CN": "没有符合条件的记录。"},
        "audit.total": {"en": "{total} entries", "zh-CN": "共 {total} 条"},
        "audit.page": {"en": "Page {page} of {pages}", "zh-CN": "第 {page} / {pages} 页"},
        "audit.previous": {"en": "Previous", "zh-CN": "上一页"},
        "audit.next": {"en": "Next", "zh-CN": "下一页"},
        "audit.bad_date": {"en": "Use a date like 2026-03-01.", "zh-CN": "请使用 2026-03-01 这样的日期。"},
        "audit.bad_number": {"en": "Use a whole number.", "zh-CN": "请输入整数。"},
        "audit.bad_text": {"en": "Use printable characters only.", "zh-CN": "请只输入可打印字符。"},
        "audit.bad_range": {"en": "The start date is after the end date.", "zh-CN": "起始日期晚于截止日期。"},
        "audit.read_only": {
            "en": "Audit entries cannot be changed or deleted.",
            "zh-CN": "审计记录不可修改或删除。",
        },
    }
)
