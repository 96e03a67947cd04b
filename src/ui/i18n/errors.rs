//! Why a transfer failed, in the window's language. The English sentences are the engine's own
//! (`TransferError`'s `Display`, which the CLI prints too); the others are here, one per kind of
//! failure, so a new kind of failure does not compile until it is translated.

use super::{Lang, Tr, human_size};
use crate::events::TransferError as E;
use crate::text::display;

impl Tr {
    pub fn transfer_error(&self, error: &E) -> String {
        match self.0 {
            Lang::En => error.to_string(),
            Lang::ZhCn => zh(error),
        }
    }
}

fn zh(error: &E) -> String {
    match error {
        E::Unreachable(_) => "无法连接到另一台电脑。请确认那台电脑上的 Ferry 已打开，并且两台电脑在同一个网络中。".into(),
        E::TimedOut => "另一台电脑没有响应了。未完成的文件都没有保存。".into(),
        E::ConnectionLost(_) => "连接已断开。未完成的文件都没有保存。".into(),
        E::IncompatibleVersion => "另一台电脑上的 Ferry 版本无法与这台通信。请把两台都更新到最新版本。".into(),
        E::Protocol(_) => "另一台电脑发来了 Ferry 无法理解的内容，传输已停止。".into(),
        E::RejectedByPeer(_) => {
            "另一台电脑无法理解这台发送的内容，传输已停止。把两台电脑上的 Ferry 都更新一下也许有用。".into()
        }
        E::PeerOverloaded => "另一台电脑现在太忙。请稍后再试。".into(),
        E::OlderPeer => "另一台电脑上的 Ferry 版本较旧。请把两台都更新到最新版本。".into(),
        E::NotTheExpectedDevice => {
            "这不是你选择的设备：它用另一个密钥应答，所以什么都没有发送。如果它被重置过，请在列表中重新选择它。".into()
        }
        E::NotProven => "另一台电脑无法证明自己是哪台设备，所以什么都没有发送。".into(),
        E::VerificationFailed(_) => "另一台电脑没有通过安全检查，传输已停止。可能有人在试图窃听。".into(),
        E::SourceUnreadable { path, reason } => format!("无法读取 {}：{}", display(path), display(reason)),
        E::NothingToSend => "你选择的内容中没有可发送的文件。".into(),
        E::TooManyFiles { count, max } => format!("一次的文件太多：{count} 个。Ferry 一次最多发送 {max} 个。"),
        E::ReceiveFolder(detail) => format!("无法保存到接收文件夹：{}", display(detail)),
        E::DiskFull { needed, available } => format!(
            "接收文件夹的可用空间不足：需要 {}，只有 {}。",
            human_size(*needed),
            human_size(*available)
        ),
        E::PeerError(detail) => format!("另一台电脑出了问题：{}", display(detail)),
        E::LocalSendUnreachable(_) => {
            "无法连接到另一台设备。请确认那台设备上的 LocalSend 已打开，并且两台设备在同一个网络中。".into()
        }
        E::WrongDevice => "那个地址上的设备不是在那里报告自己的那台（它的证书不同），所以什么都没有发送。".into(),
        E::TextTooLong { len, max } => format!("文字太长，无法发送：{len} 字节；Ferry 一次最多发送 {max} 字节的文字。"),
        E::NoText => "没有要发送的文字。".into(),
        E::PinRequired => {
            "另一台设备要求输入 PIN，Ferry 暂时还不能发送 PIN。请在那台设备的 LocalSend 设置中关闭“需要 PIN”，然后再试。".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of failure, with made-up details.
    fn every_error() -> Vec<E> {
        vec![
            E::Unreachable("x".into()),
            E::TimedOut,
            E::ConnectionLost("x".into()),
            E::IncompatibleVersion,
            E::Protocol("x".into()),
            E::RejectedByPeer("x".into()),
            E::PeerOverloaded,
            E::OlderPeer,
            E::NotTheExpectedDevice,
            E::NotProven,
            E::VerificationFailed("x".into()),
            E::SourceUnreadable { path: "/photos/\u{1b}[31mIMG.jpg".into(), reason: "gone".into() },
            E::NothingToSend,
            E::TooManyFiles { count: 20_000, max: 10_000 },
            E::ReceiveFolder("/x".into()),
            E::DiskFull { needed: 2_000_000, available: 1_000 },
            E::PeerError("oops".into()),
            E::LocalSendUnreachable("x".into()),
            E::WrongDevice,
            E::TextTooLong { len: 20_000, max: 16_384 },
            E::NoText,
            E::PinRequired,
        ]
    }

    #[test]
    fn english_is_the_engines_sentence_and_chinese_is_chinese() {
        let (en, zh) = (Tr(Lang::En), Tr(Lang::ZhCn));
        for e in every_error() {
            assert_eq!(en.transfer_error(&e), e.to_string());
            let said = zh.transfer_error(&e);
            assert!(said.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{e:?}: {said}");
            assert!(!said.contains("The other") && !said.contains("Couldn't"), "{e:?}: {said}");
        }
    }

    #[test]
    fn details_from_outside_are_shown_escaped_and_sizes_readable() {
        let zh = Tr(Lang::ZhCn);
        let said =
            zh.transfer_error(&E::SourceUnreadable { path: "/p/\u{1b}[31mx".into(), reason: "r".into() });
        assert!(!said.contains('\u{1b}'), "{said:?}");
        let said = zh.transfer_error(&E::DiskFull { needed: 2_000_000, available: 1_000 });
        assert!(said.contains("2.00 MB") && said.contains("1.00 kB"), "{said}");
    }
}
