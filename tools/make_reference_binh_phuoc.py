"""Write the demo province's reference files once (pipeline/reference_data/binh-phuoc/*.csv).

The CSV files are the source of truth; this script only records how they were first made, so a
reviewer can see why the numbers are what they are. It is deterministic (fixed seed) and shaped
on the seed figures of spec §6: 122 units, 1,831 procedures of which 1,072 full-process online,
335 partial online and 424 offline only.

Run from the repository root:  .venv/bin/python tools/make_reference_binh_phuoc.py
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "reference_data" / "binh-phuoc"
PROVINCE = ("H70", "Ủy ban nhân dân tỉnh Bình Phước")
TOTAL_PROCEDURES = 1831
ONLINE_FULL, ONLINE_PARTIAL = 1072, 335

DEPARTMENTS = [
    "Văn phòng Ủy ban nhân dân tỉnh",
    "Sở Nội vụ",
    "Sở Tư pháp",
    "Sở Kế hoạch và Đầu tư",
    "Sở Tài chính",
    "Sở Công Thương",
    "Sở Nông nghiệp và Phát triển nông thôn",
    "Sở Giao thông vận tải",
    "Sở Xây dựng",
    "Sở Tài nguyên và Môi trường",
    "Sở Thông tin và Truyền thông",
    "Sở Lao động - Thương binh và Xã hội",
    "Sở Văn hóa, Thể thao và Du lịch",
    "Sở Khoa học và Công nghệ",
    "Sở Giáo dục và Đào tạo",
    "Sở Y tế",
    "Thanh tra tỉnh",
    "Ban Dân tộc",
    "Ban Quản lý Khu kinh tế",
    "Sở Ngoại vụ",
]

DISTRICTS: list[tuple[str, list[str]]] = [
    (
        "Thành phố Đồng Xoài",
        [
            "Phường Tân Phú",
            "Phường Tân Đồng",
            "Phường Tân Bình",
            "Phường Tân Xuân",
            "Phường Tân Thiện",
            "Phường Tiến Thành",
            "Xã Tiến Hưng",
            "Xã Tân Thành",
        ],
    ),
    (
        "Thị xã Bình Long",
        [
            "Phường An Lộc",
            "Phường Hưng Chiến",
            "Phường Phú Đức",
            "Phường Phú Thịnh",
            "Xã Thanh Lương",
            "Xã Thanh Phú",
        ],
    ),
    (
        "Thị xã Phước Long",
        [
            "Phường Long Thủy",
            "Phường Phước Bình",
            "Phường Thác Mơ",
            "Phường Long Phước",
            "Phường Sơn Giang",
            "Xã Long Giang",
            "Xã Phước Tín",
        ],
    ),
    (
        "Thị xã Chơn Thành",
        [
            "Phường Minh Hưng",
            "Phường Hưng Long",
            "Phường Thành Tâm",
            "Xã Minh Long",
            "Xã Minh Thành",
            "Xã Nha Bích",
            "Xã Quang Minh",
        ],
    ),
    (
        "Huyện Bù Đăng",
        [
            "Thị trấn Đức Phong",
            "Xã Đường 10",
            "Xã Đak Nhau",
            "Xã Phú Sơn",
            "Xã Thọ Sơn",
            "Xã Bình Minh",
            "Xã Bom Bo",
            "Xã Minh Hưng",
            "Xã Đoàn Kết",
            "Xã Đồng Nai",
            "Xã Đức Liễu",
            "Xã Thống Nhất",
        ],
    ),
    (
        "Huyện Bù Đốp",
        [
            "Thị trấn Thanh Bình",
            "Xã Hưng Phước",
            "Xã Phước Thiện",
            "Xã Thiện Hưng",
            "Xã Thanh Hòa",
            "Xã Tân Thành",
            "Xã Tân Tiến",
        ],
    ),
    (
        "Huyện Bù Gia Mập",
        [
            "Xã Bù Gia Mập",
            "Xã Đak Ơ",
            "Xã Đức Hạnh",
            "Xã Phú Văn",
            "Xã Đa Kia",
            "Xã Phước Minh",
            "Xã Bình Thắng",
            "Xã Phú Nghĩa",
        ],
    ),
    (
        "Huyện Đồng Phú",
        [
            "Thị trấn Tân Phú",
            "Xã Thuận Lợi",
            "Xã Đồng Tâm",
            "Xã Tân Phước",
            "Xã Tân Hưng",
            "Xã Tân Lợi",
            "Xã Tân Lập",
            "Xã Tân Hòa",
        ],
    ),
    (
        "Huyện Hớn Quản",
        [
            "Xã Tân Khai",
            "Xã Đồng Nơ",
            "Xã Tân Hiệp",
            "Xã Tân Quan",
            "Xã Tân Hưng",
            "Xã Thanh An",
            "Xã An Khương",
            "Xã An Phú",
            "Xã Minh Đức",
        ],
    ),
    (
        "Huyện Lộc Ninh",
        [
            "Thị trấn Lộc Ninh",
            "Xã Lộc Hòa",
            "Xã Lộc An",
            "Xã Lộc Tấn",
            "Xã Lộc Thạnh",
            "Xã Lộc Thiện",
            "Xã Lộc Thuận",
            "Xã Lộc Quang",
            "Xã Lộc Hưng",
            "Xã Lộc Khánh",
        ],
    ),
    (
        "Huyện Phú Riềng",
        [
            "Xã Phú Riềng",
            "Xã Bù Nho",
            "Xã Long Hưng",
            "Xã Long Hà",
            "Xã Long Tân",
            "Xã Long Bình",
            "Xã Phước Tân",
            "Xã Bình Tân",
        ],
    ),
]

# field -> (owning department index, online propensity, fee share, typical due working days,
#           objects the procedures act on)
DEPARTMENT_FIELDS: dict[str, tuple[int, float, float, tuple[int, int], list[str]]] = {
    "Kiểm soát thủ tục hành chính": (
        0,
        0.7,
        0.0,
        (5, 10),
        ["phản ánh về quy định hành chính", "kết quả giải quyết thủ tục hành chính"],
    ),
    "Tổ chức biên chế": (
        1,
        0.4,
        0.0,
        (10, 20),
        ["vị trí việc làm", "đề án tổ chức bộ máy", "số lượng người làm việc"],
    ),
    "Công chức, viên chức": (
        1,
        0.4,
        0.1,
        (10, 30),
        [
            "kết quả thi tuyển viên chức",
            "hồ sơ nâng ngạch công chức",
            "quyết định tiếp nhận công chức",
        ],
    ),
    "Thi đua, khen thưởng": (
        1,
        0.6,
        0.0,
        (10, 20),
        [
            "bằng khen của Chủ tịch Ủy ban nhân dân tỉnh",
            "danh hiệu Chiến sĩ thi đua cấp tỉnh",
            "cờ thi đua của Ủy ban nhân dân tỉnh",
        ],
    ),
    "Tín ngưỡng, tôn giáo": (
        1,
        0.5,
        0.0,
        (15, 30),
        [
            "hoạt động tôn giáo",
            "tổ chức tôn giáo trực thuộc",
            "hội nghị thường niên của tổ chức tôn giáo",
        ],
    ),
    "Văn thư, lưu trữ": (
        1,
        0.7,
        0.3,
        (3, 10),
        ["chứng chỉ hành nghề lưu trữ", "bản sao tài liệu lưu trữ"],
    ),
    "Lý lịch tư pháp": (
        2,
        0.95,
        0.9,
        (7, 15),
        ["Phiếu lý lịch tư pháp số 1", "Phiếu lý lịch tư pháp số 2"],
    ),
    "Công chứng": (
        2,
        0.5,
        0.6,
        (5, 20),
        ["tổ chức hành nghề công chứng", "thẻ công chứng viên", "văn phòng công chứng"],
    ),
    "Luật sư": (
        2,
        0.5,
        0.6,
        (7, 15),
        ["hoạt động của tổ chức hành nghề luật sư", "chi nhánh của công ty luật nước ngoài"],
    ),
    "Trợ giúp pháp lý": (
        2,
        0.8,
        0.0,
        (2, 10),
        ["yêu cầu trợ giúp pháp lý", "thẻ trợ giúp viên pháp lý"],
    ),
    "Đấu giá tài sản": (2, 0.6, 0.6, (5, 15), ["tổ chức đấu giá tài sản", "thẻ đấu giá viên"]),
    "Hộ tịch có yếu tố nước ngoài": (
        2,
        0.8,
        0.7,
        (5, 15),
        ["việc thay đổi, cải chính hộ tịch", "việc nuôi con nuôi nước ngoài"],
    ),
    "Thành lập và hoạt động doanh nghiệp": (
        3,
        0.97,
        0.8,
        (3, 5),
        [
            "doanh nghiệp tư nhân",
            "công ty trách nhiệm hữu hạn một thành viên",
            "công ty cổ phần",
            "chi nhánh, văn phòng đại diện",
            "địa điểm kinh doanh",
        ],
    ),
    "Đầu tư tại Việt Nam": (
        3,
        0.6,
        0.2,
        (15, 35),
        ["chủ trương đầu tư", "giấy chứng nhận đăng ký đầu tư", "dự án đầu tư"],
    ),
    "Thành lập và hoạt động của hợp tác xã": (
        3,
        0.9,
        0.5,
        (3, 5),
        ["hợp tác xã", "liên hiệp hợp tác xã"],
    ),
    "Quản lý công sản": (4, 0.4, 0.0, (15, 30), ["tài sản công", "phương án sắp xếp nhà, đất"]),
    "Quản lý giá": (4, 0.5, 0.0, (10, 15), ["phương án giá", "đăng ký giá"]),
    "Lưu thông hàng hóa trong nước": (
        5,
        0.9,
        0.9,
        (7, 15),
        [
            "giấy phép bán buôn rượu",
            "giấy phép bán lẻ sản phẩm thuốc lá",
            "giấy chứng nhận đủ điều kiện kinh doanh xăng dầu",
        ],
    ),
    "Điện": (5, 0.8, 0.9, (5, 15), ["giấy phép hoạt động điện lực", "thẻ an toàn điện"]),
    "An toàn thực phẩm (Công Thương)": (
        5,
        0.85,
        0.9,
        (10, 20),
        ["giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm"],
    ),
    "Hóa chất": (
        5,
        0.7,
        0.9,
        (7, 15),
        ["giấy chứng nhận đủ điều kiện sản xuất hóa chất", "giấy phép kinh doanh hóa chất hạn chế"],
    ),
    "Kinh doanh khí": (
        5,
        0.75,
        0.9,
        (10, 15),
        ["giấy chứng nhận đủ điều kiện thương nhân kinh doanh khí", "giấy chứng nhận trạm nạp khí"],
    ),
    "Xúc tiến thương mại": (
        5,
        0.9,
        0.2,
        (5, 10),
        ["chương trình khuyến mại", "hội chợ, triển lãm thương mại"],
    ),
    "Trồng trọt": (
        6,
        0.6,
        0.5,
        (10, 20),
        ["giấy chứng nhận cây đầu dòng", "quyết định công nhận vườn cây đầu dòng"],
    ),
    "Chăn nuôi": (
        6,
        0.6,
        0.6,
        (10, 20),
        [
            "giấy chứng nhận đủ điều kiện chăn nuôi trang trại",
            "giấy chứng nhận đủ điều kiện sản xuất thức ăn chăn nuôi",
        ],
    ),
    "Thú y": (
        6,
        0.7,
        0.8,
        (3, 15),
        [
            "giấy chứng nhận kiểm dịch động vật",
            "chứng chỉ hành nghề thú y",
            "giấy chứng nhận cơ sở an toàn dịch bệnh",
        ],
    ),
    "Bảo vệ thực vật": (
        6,
        0.7,
        0.8,
        (5, 15),
        [
            "giấy chứng nhận đủ điều kiện buôn bán thuốc bảo vệ thực vật",
            "giấy phép vận chuyển thuốc bảo vệ thực vật",
        ],
    ),
    "Lâm nghiệp": (
        6,
        0.4,
        0.3,
        (10, 30),
        [
            "phương án quản lý rừng bền vững",
            "hồ sơ khai thác gỗ rừng trồng",
            "chuyển mục đích sử dụng rừng",
        ],
    ),
    "Thủy lợi": (
        6,
        0.4,
        0.5,
        (15, 30),
        ["giấy phép hoạt động trong phạm vi bảo vệ công trình thủy lợi", "phương án bảo vệ đập"],
    ),
    "Đường bộ": (
        7,
        0.85,
        0.9,
        (2, 10),
        [
            "giấy phép lưu hành xe quá tải trọng",
            "phù hiệu xe kinh doanh vận tải",
            "giấy phép kinh doanh vận tải bằng xe ô tô",
            "giấy phép thi công công trình trên đường bộ",
        ],
    ),
    "Đào tạo, sát hạch giấy phép lái xe": (
        7,
        0.9,
        1.0,
        (5, 10),
        ["giấy phép lái xe", "giấy phép lái xe quốc tế", "giấy phép xe tập lái"],
    ),
    "Đường thủy nội địa": (
        7,
        0.5,
        0.8,
        (5, 10),
        ["giấy chứng nhận đăng ký phương tiện thủy nội địa", "bến thủy nội địa"],
    ),
    "Hoạt động xây dựng": (
        8,
        0.6,
        0.8,
        (15, 30),
        [
            "giấy phép xây dựng",
            "chứng chỉ hành nghề hoạt động xây dựng",
            "kết quả thẩm định thiết kế xây dựng",
            "chứng chỉ năng lực hoạt động xây dựng",
        ],
    ),
    "Nhà ở": (
        8,
        0.5,
        0.5,
        (15, 30),
        ["nhà ở xã hội", "chủ trương đầu tư dự án nhà ở", "việc bán nhà ở thuộc sở hữu nhà nước"],
    ),
    "Quy hoạch xây dựng": (
        8,
        0.4,
        0.2,
        (15, 25),
        ["quy hoạch chi tiết xây dựng", "nhiệm vụ quy hoạch xây dựng"],
    ),
    "Kinh doanh bất động sản": (
        8,
        0.6,
        0.4,
        (15, 30),
        ["chứng chỉ hành nghề môi giới bất động sản", "việc chuyển nhượng dự án bất động sản"],
    ),
    "Đất đai": (
        9,
        0.45,
        0.9,
        (10, 30),
        [
            "quyền sử dụng đất",
            "giấy chứng nhận quyền sử dụng đất lần đầu",
            "biến động đất đai",
            "giao đất, cho thuê đất",
            "chuyển mục đích sử dụng đất",
            "thông tin đất đai",
        ],
    ),
    "Môi trường": (
        9,
        0.5,
        0.7,
        (15, 40),
        [
            "giấy phép môi trường",
            "báo cáo đánh giá tác động môi trường",
            "phương án cải tạo, phục hồi môi trường",
        ],
    ),
    "Tài nguyên nước": (
        9,
        0.5,
        0.8,
        (15, 30),
        [
            "giấy phép khai thác nước dưới đất",
            "giấy phép xả nước thải vào nguồn nước",
            "giấy phép thăm dò nước dưới đất",
        ],
    ),
    "Địa chất và khoáng sản": (
        9,
        0.35,
        0.9,
        (20, 45),
        [
            "giấy phép khai thác khoáng sản",
            "giấy phép thăm dò khoáng sản",
            "quyền khai thác khoáng sản",
        ],
    ),
    "Đo đạc, bản đồ": (
        9,
        0.6,
        0.7,
        (5, 15),
        ["giấy phép hoạt động đo đạc và bản đồ", "thông tin, dữ liệu đo đạc"],
    ),
    "Báo chí": (
        10,
        0.7,
        0.3,
        (10, 15),
        ["giấy phép xuất bản bản tin", "giấy phép hoạt động báo in"],
    ),
    "Xuất bản, in và phát hành": (
        10,
        0.8,
        0.4,
        (5, 15),
        [
            "giấy phép hoạt động in",
            "giấy phép xuất bản tài liệu không kinh doanh",
            "xác nhận đăng ký hoạt động phát hành xuất bản phẩm",
        ],
    ),
    "Viễn thông và Internet": (
        10,
        0.85,
        0.6,
        (5, 10),
        [
            "giấy chứng nhận đăng ký cung cấp trò chơi điện tử",
            "giấy phép thiết lập trang thông tin điện tử tổng hợp",
        ],
    ),
    "Bưu chính": (
        10,
        0.9,
        0.6,
        (5, 10),
        ["giấy phép bưu chính", "văn bản xác nhận thông báo hoạt động bưu chính"],
    ),
    "Việc làm": (
        11,
        0.95,
        0.1,
        (5, 20),
        [
            "trợ cấp thất nghiệp",
            "giấy phép lao động cho người nước ngoài",
            "giấy phép hoạt động dịch vụ việc làm",
        ],
    ),
    "Giáo dục nghề nghiệp": (
        11,
        0.6,
        0.4,
        (10, 20),
        ["giấy chứng nhận đăng ký hoạt động giáo dục nghề nghiệp", "trường trung cấp"],
    ),
    "An toàn, vệ sinh lao động": (
        11,
        0.7,
        0.6,
        (5, 15),
        [
            "giấy chứng nhận đủ điều kiện hoạt động huấn luyện an toàn",
            "khai báo thiết bị có yêu cầu nghiêm ngặt",
        ],
    ),
    "Lao động, tiền lương": (
        11,
        0.7,
        0.0,
        (5, 10),
        ["nội quy lao động", "thang lương, bảng lương"],
    ),
    "Bảo trợ xã hội (cấp tỉnh)": (
        11,
        0.6,
        0.0,
        (10, 20),
        ["cơ sở trợ giúp xã hội", "giấy phép hoạt động cai nghiện ma túy"],
    ),
    "Người có công (cấp tỉnh)": (
        11,
        0.5,
        0.0,
        (15, 30),
        ["trợ cấp ưu đãi người có công", "hồ sơ liệt sĩ", "giấy chứng nhận thân nhân liệt sĩ"],
    ),
    "Văn hóa": (
        12,
        0.8,
        0.6,
        (5, 15),
        [
            "giấy phép tổ chức biểu diễn nghệ thuật",
            "giấy phép kinh doanh karaoke",
            "giấy phép tổ chức lễ hội",
        ],
    ),
    "Thể dục, thể thao": (
        12,
        0.8,
        0.6,
        (5, 10),
        ["giấy chứng nhận đủ điều kiện kinh doanh hoạt động thể thao", "giải thi đấu thể thao"],
    ),
    "Du lịch": (
        12,
        0.85,
        0.7,
        (5, 15),
        [
            "giấy phép kinh doanh dịch vụ lữ hành",
            "thẻ hướng dẫn viên du lịch",
            "hạng cơ sở lưu trú du lịch",
        ],
    ),
    "Di sản văn hóa": (
        12,
        0.5,
        0.5,
        (10, 20),
        ["chứng chỉ hành nghề tu bổ di tích", "bảo tàng ngoài công lập"],
    ),
    "Gia đình": (
        12,
        0.7,
        0.3,
        (10, 20),
        ["giấy chứng nhận đăng ký hoạt động trợ giúp nạn nhân bạo lực gia đình"],
    ),
    "Hoạt động khoa học và công nghệ": (
        13,
        0.8,
        0.4,
        (5, 15),
        [
            "giấy chứng nhận đăng ký hoạt động khoa học và công nghệ",
            "nhiệm vụ khoa học và công nghệ",
        ],
    ),
    "Tiêu chuẩn, đo lường, chất lượng": (
        13,
        0.85,
        0.7,
        (3, 10),
        [
            "chứng chỉ kiểm định viên đo lường",
            "công bố hợp quy",
            "kiểm tra nhà nước về chất lượng hàng hóa nhập khẩu",
        ],
    ),
    "An toàn bức xạ và hạt nhân": (
        13,
        0.6,
        0.8,
        (10, 20),
        ["giấy phép tiến hành công việc bức xạ", "chứng chỉ nhân viên bức xạ"],
    ),
    "Giáo dục và Đào tạo": (
        14,
        0.8,
        0.2,
        (5, 20),
        [
            "trường trung học phổ thông",
            "trung tâm ngoại ngữ, tin học",
            "hoạt động giáo dục",
            "hoạt động liên kết đào tạo",
        ],
    ),
    "Văn bằng, chứng chỉ": (
        14,
        0.95,
        0.3,
        (3, 5),
        [
            "bản sao văn bằng, chứng chỉ từ sổ gốc",
            "văn bằng, chứng chỉ",
            "giấy chứng nhận tốt nghiệp tạm thời",
        ],
    ),
    "Khám bệnh, chữa bệnh": (
        15,
        0.7,
        0.9,
        (10, 30),
        [
            "chứng chỉ hành nghề khám bệnh, chữa bệnh",
            "giấy phép hoạt động phòng khám",
            "giấy phép hoạt động cơ sở dịch vụ thẩm mỹ",
        ],
    ),
    "Dược phẩm": (
        15,
        0.75,
        0.9,
        (10, 30),
        [
            "chứng chỉ hành nghề dược",
            "giấy chứng nhận đủ điều kiện kinh doanh dược",
            "giấy xác nhận nội dung quảng cáo thuốc",
        ],
    ),
    "An toàn thực phẩm (Y tế)": (
        15,
        0.85,
        0.9,
        (10, 20),
        [
            "giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
            "bản công bố sản phẩm thực phẩm",
            "giấy xác nhận nội dung quảng cáo thực phẩm",
        ],
    ),
    "Y tế dự phòng": (
        15,
        0.6,
        0.7,
        (5, 15),
        ["giấy chứng nhận đủ điều kiện xét nghiệm", "cơ sở tiêm chủng"],
    ),
    "Trang thiết bị y tế": (
        15,
        0.8,
        0.9,
        (5, 15),
        ["số lưu hành trang thiết bị y tế", "công bố đủ điều kiện mua bán trang thiết bị y tế"],
    ),
    "Giải quyết khiếu nại": (16, 0.4, 0.0, (30, 45), ["khiếu nại lần đầu", "khiếu nại lần hai"]),
    "Giải quyết tố cáo": (16, 0.3, 0.0, (30, 45), ["tố cáo"]),
    "Tiếp công dân": (16, 0.5, 0.0, (5, 10), ["yêu cầu tiếp công dân"]),
    "Công tác dân tộc": (
        17,
        0.5,
        0.0,
        (10, 20),
        [
            "người có uy tín trong đồng bào dân tộc thiểu số",
            "chính sách hỗ trợ đồng bào dân tộc thiểu số",
        ],
    ),
    "Đầu tư vào khu công nghiệp": (
        18,
        0.7,
        0.3,
        (10, 30),
        [
            "giấy chứng nhận đăng ký đầu tư trong khu công nghiệp",
            "giấy phép lao động trong khu công nghiệp",
            "giấy phép xây dựng trong khu công nghiệp",
        ],
    ),
    "Ngoại vụ": (
        19,
        0.7,
        0.0,
        (3, 10),
        [
            "hội nghị, hội thảo quốc tế",
            "việc đi nước ngoài của cán bộ",
            "tổ chức phi chính phủ nước ngoài",
        ],
    ),
}

# field -> (online propensity, fee share, due working days, objects)
DISTRICT_FIELDS: dict[str, tuple[float, float, tuple[int, int], list[str]]] = {
    "Hộ tịch (cấp huyện)": (
        0.9,
        0.7,
        (3, 15),
        [
            "việc thay đổi, cải chính hộ tịch",
            "việc khai sinh có yếu tố nước ngoài",
            "việc kết hôn có yếu tố nước ngoài",
            "giấy xác nhận tình trạng hôn nhân",
        ],
    ),
    "Chứng thực (cấp huyện)": (
        0.7,
        1.0,
        (1, 2),
        [
            "bản sao từ bản chính giấy tờ do cơ quan nước ngoài cấp",
            "chữ ký người dịch",
            "hợp đồng, giao dịch",
        ],
    ),
    "Đất đai (cấp huyện)": (
        0.45,
        0.9,
        (10, 30),
        [
            "giấy chứng nhận quyền sử dụng đất cho hộ gia đình",
            "giao đất, cho thuê đất cho hộ gia đình",
            "chuyển mục đích sử dụng đất của hộ gia đình",
            "tranh chấp đất đai",
        ],
    ),
    "Thành lập và hoạt động của hộ kinh doanh": (
        0.95,
        0.9,
        (3, 3),
        ["hộ kinh doanh", "địa điểm kinh doanh của hộ kinh doanh"],
    ),
    "Bảo trợ xã hội (cấp huyện)": (
        0.7,
        0.0,
        (5, 15),
        ["trợ cấp xã hội hàng tháng", "hỗ trợ chi phí mai táng", "trợ giúp xã hội khẩn cấp"],
    ),
    "Người có công (cấp huyện)": (
        0.6,
        0.0,
        (10, 20),
        ["trợ cấp một lần", "hỗ trợ người có công cải thiện nhà ở"],
    ),
    "Giáo dục và Đào tạo (cấp huyện)": (
        0.8,
        0.1,
        (5, 20),
        ["trường mầm non", "trường tiểu học", "chuyển trường học sinh trung học cơ sở"],
    ),
    "Hoạt động xây dựng (cấp huyện)": (
        0.65,
        0.8,
        (7, 20),
        ["giấy phép xây dựng nhà ở riêng lẻ", "giấy phép sửa chữa, cải tạo công trình"],
    ),
    "Môi trường (cấp huyện)": (
        0.5,
        0.3,
        (10, 20),
        ["kế hoạch bảo vệ môi trường", "đăng ký môi trường"],
    ),
    "Lưu thông hàng hóa (cấp huyện)": (
        0.85,
        0.9,
        (10, 15),
        ["giấy phép bán lẻ rượu", "giấy phép bán rượu tiêu dùng tại chỗ"],
    ),
    "Thi đua, khen thưởng (cấp huyện)": (
        0.6,
        0.0,
        (10, 20),
        ["giấy khen của Chủ tịch Ủy ban nhân dân cấp huyện", "danh hiệu Lao động tiên tiến"],
    ),
    "Văn hóa (cấp huyện)": (
        0.7,
        0.3,
        (5, 10),
        ["danh hiệu Gia đình văn hóa", "thư viện cộng đồng"],
    ),
}

# commune-level fields
COMMUNE_FIELDS: dict[str, tuple[float, float, tuple[int, int], list[str]]] = {
    "Hộ tịch": (
        0.95,
        0.5,
        (1, 5),
        [
            "khai sinh",
            "kết hôn",
            "khai tử",
            "nhận cha, mẹ, con",
            "giấy xác nhận tình trạng hôn nhân",
            "bản sao trích lục hộ tịch",
            "giám hộ",
        ],
    ),
    "Chứng thực": (
        0.75,
        1.0,
        (1, 2),
        [
            "bản sao từ bản chính",
            "chữ ký trong giấy tờ, văn bản",
            "hợp đồng, giao dịch liên quan đến tài sản là động sản",
            "di chúc",
        ],
    ),
    "Bảo trợ xã hội": (
        0.75,
        0.0,
        (3, 10),
        ["trợ cấp xã hội hàng tháng", "xác định mức độ khuyết tật", "hỗ trợ chi phí mai táng"],
    ),
    "Người có công": (0.6, 0.0, (5, 15), ["trợ cấp mai táng phí", "xác nhận người có công"]),
    "Đất đai (cấp xã)": (
        0.5,
        0.3,
        (10, 30),
        ["hòa giải tranh chấp đất đai", "xác nhận nguồn gốc đất"],
    ),
    "Nuôi con nuôi": (
        0.7,
        0.5,
        (10, 30),
        ["việc nuôi con nuôi trong nước", "lại việc nuôi con nuôi"],
    ),
    "Thi đua, khen thưởng (cấp xã)": (
        0.6,
        0.0,
        (5, 10),
        ["giấy khen của Chủ tịch Ủy ban nhân dân cấp xã"],
    ),
    "Văn hóa (cấp xã)": (0.7, 0.0, (5, 10), ["danh hiệu Gia đình văn hóa", "tổ chức lễ hội"]),
}

# The most used procedures, by their usual names; they come first in their field.
NAMED: dict[str, list[str]] = {
    "Hộ tịch": [
        "Đăng ký khai sinh",
        "Đăng ký kết hôn",
        "Đăng ký khai tử",
        "Đăng ký nhận cha, mẹ, con",
        "Cấp giấy xác nhận tình trạng hôn nhân",
        "Cấp bản sao trích lục hộ tịch",
        "Đăng ký lại khai sinh",
        "Đăng ký giám hộ",
        "Đăng ký khai sinh kết hợp nhận cha, mẹ, con",
        "Liên thông thủ tục đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế",
    ],
    "Chứng thực": [
        "Chứng thực bản sao từ bản chính giấy tờ, văn bản",
        "Chứng thực chữ ký trong các giấy tờ, văn bản",
        "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản",
        "Chứng thực di chúc",
        "Chứng thực văn bản thỏa thuận phân chia di sản",
    ],
    "Đào tạo, sát hạch giấy phép lái xe": [
        "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp",
        "Cấp lại giấy phép lái xe",
        "Cấp giấy phép lái xe quốc tế",
    ],
    "Lý lịch tư pháp": [
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam"
    ],
    "Thành lập và hoạt động của hộ kinh doanh": [
        "Đăng ký thành lập hộ kinh doanh",
        "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh",
    ],
    "Đất đai": [
        "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất lần đầu",
        "Cung cấp dữ liệu đất đai",
    ],
}

VERBS = [
    "Cấp",
    "Cấp lại",
    "Điều chỉnh",
    "Gia hạn",
    "Thu hồi",
    "Thẩm định",
    "Đăng ký",
    "Xác nhận",
    "Công nhận",
    "Thông báo về",
    "Chấm dứt",
    "Phê duyệt",
    "Đăng ký thay đổi",
    "Cấp bản sao",
]
FEES = [
    8_000,
    10_000,
    15_000,
    20_000,
    30_000,
    50_000,
    100_000,
    150_000,
    200_000,
    300_000,
    500_000,
    1_000_000,
    2_000_000,
    3_000_000,
]


def units() -> list[dict[str, str]]:
    rows = [{"code": PROVINCE[0], "name": PROVINCE[1], "level": "province", "parent": ""}]
    for i, name in enumerate(DEPARTMENTS, start=1):
        rows.append({"code": f"H70.{i:02d}", "name": name, "level": "department", "parent": "H70"})
    for i, (district, communes) in enumerate(DISTRICTS, start=21):
        code = f"H70.{i:02d}"
        rows.append(
            {
                "code": code,
                "name": f"Ủy ban nhân dân {district}",
                "level": "district",
                "parent": "H70",
            }
        )
        for j, commune in enumerate(communes, start=1):
            rows.append(
                {
                    "code": f"{code}.{j:02d}",
                    "name": f"Ủy ban nhân dân {commune}",
                    "level": "commune",
                    "parent": code,
                }
            )
    return rows


def procedures(rng: random.Random) -> list[dict[str, object]]:
    plan: list[tuple[str, str, str, float, float, tuple[int, int], list[str], int]] = []
    for field, (dept, online, fee, due, objects) in DEPARTMENT_FIELDS.items():
        plan.append((field, "department", f"H70.{dept + 1:02d}", online, fee, due, objects, 20))
    for field, (online, fee, due, objects) in DISTRICT_FIELDS.items():
        plan.append((field, "district", "", online, fee, due, objects, 22))
    for field, (online, fee, due, objects) in COMMUNE_FIELDS.items():
        plan.append((field, "commune", "", online, fee, due, objects, 15))
    quota_total = sum(p[-1] for p in plan)
    rows: list[dict[str, object]] = []
    used_codes: set[str] = set()
    remainder = TOTAL_PROCEDURES
    for n, (field, level, agency, online, fee, due, objects, quota) in enumerate(plan):
        count = remainder if n == len(plan) - 1 else round(quota * TOTAL_PROCEDURES / quota_total)
        remainder -= count
        generic = [f"{verb} {obj}" for obj in objects for verb in VERBS]
        rng.shuffle(generic)
        names = NAMED.get(field, []) + generic
        while len(names) < count:  # a few fields need more names than verbs x objects
            names.append(f"{rng.choice(VERBS)} {rng.choice(objects)} (trường hợp {len(names)})")
        for name in names[:count]:
            code = ""
            while not code or code in used_codes:
                code = f"{rng.choice('12')}.{rng.randrange(0, 13_000):06d}"
            used_codes.add(code)
            is_notice = name.startswith(("Thông báo", "Chấm dứt"))
            rows.append(
                {
                    "code": code,
                    "name": name[0].upper() + name[1:],
                    "field": field,
                    "level": level,
                    "agency": agency,
                    "_propensity": online
                    + rng.gauss(0, 0.25)
                    - (0.3 if name.startswith("Thu hồi") else 0),
                    "fee_bearing": rng.random() < fee and not is_notice,
                    "result_is_document": not is_notice and rng.random() < 0.97,
                    "due_days": rng.randint(*due),
                }
            )
    # Exactly the seed's mix: the most online-prone procedures are the full-process ones.
    rows.sort(key=lambda r: -float(r["_propensity"]))  # type: ignore[arg-type]
    for i, row in enumerate(rows):
        level = (
            "full" if i < ONLINE_FULL else "partial" if i < ONLINE_FULL + ONLINE_PARTIAL else "none"
        )
        row["online_level"] = level
        row["full_process_eligible"] = (
            level == "full"
            or (level == "partial" and rng.random() < 0.4)
            or (level == "none" and rng.random() < 0.08)
        )
        row["fee_vnd"] = rng.choice(FEES) if row["fee_bearing"] else 0
        del row["_propensity"]
    rows.sort(key=lambda r: str(r["code"]))
    return rows


def _ramp(day: date, low: float, start: date, full: date, high: float) -> float:
    """``low`` before ``start``, rising linearly to ``high`` at ``full`` and after."""
    if day <= start:
        return low
    if day >= full:
        return high
    return low + (high - low) * (day - start).days / (full - start).days


def _some_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def catalogue(procedures: list[dict[str, object]], units: list[dict[str, str]]) -> None:
    """Add the 766 catalogue columns (publication, make-public, record completeness, population
    database connection; units' e-certified-copy start) from their own random stream, so the
    columns written before stay byte-identical.

    The shape follows the province's 2024 (the seed: 88.2 for the year, about 20 points less in
    January): publication decisions and make-public actions rarely on time until early 2024
    and nearly all from April 2024 on (1.1, 1.2); procedures connected to the population
    database from January to September 2024 (3.6); every unit offering e-certified copies by
    June 2024 (3.7: 122 of 122 in the seed).
    """
    rng = random.Random("766:catalogue")
    for row in procedures:
        published = _some_day(rng, date(2022, 7, 1), date(2025, 6, 30))
        on_time = _ramp(published, 0.05, date(2024, 2, 1), date(2024, 4, 1), 0.99)
        lead = rng.randint(10, 45) if rng.random() < on_time else rng.randint(0, 4)
        public = rng.randint(0, 4) if rng.random() < on_time else rng.randint(9, 25)
        row["published_on"] = published.isoformat()
        row["effective_on"] = (published + timedelta(days=lead)).isoformat()
        row["public_on"] = (published + timedelta(days=public)).isoformat()
        row["record_complete"] = rng.random() < 0.985
        connected = rng.random() < 0.88
        row["population_data_on"] = (
            _some_day(rng, date(2024, 1, 1), date(2024, 9, 30)).isoformat() if connected else ""
        )
    for unit in units:
        unit["e_certified_copy_on"] = _some_day(
            rng, date(2024, 1, 20), date(2024, 5, 31)
        ).isoformat()


def _flag(value: object) -> object:
    return ("true" if value else "false") if isinstance(value, bool) else value


def write(path: Path, rows: list[dict[str, object]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _flag(row[c]) for c in columns})


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(766)
    unit_rows = units()
    procedure_rows = procedures(rng)
    catalogue(procedure_rows, unit_rows)
    write(
        OUT_DIR / "units.csv", unit_rows, ["code", "name", "level", "parent", "e_certified_copy_on"]
    )  # type: ignore[arg-type]
    write(
        OUT_DIR / "procedures.csv",
        procedure_rows,
        [
            "code",
            "name",
            "field",
            "level",
            "agency",
            "online_level",
            "fee_bearing",
            "result_is_document",
            "full_process_eligible",
            "due_days",
            "fee_vnd",
            "published_on",
            "effective_on",
            "public_on",
            "record_complete",
            "population_data_on",
        ],
    )
    print(f"wrote {OUT_DIR}")


if __name__ == "__main__":
    main()
