// The page's words (i18n.js): English first, every key also in Simplified Chinese.
export const WORDS = {
  en: {
    "page.title": "fieldkit · command post",
    "timeline.play": "Play",
    "timeline.pause": "Pause",
    "timeline.back": "Live",
    "timeline.live": "live",
    "timeline.replay": "replay {time}",
    "timeline.speed": "playback speed",
    "timeline.slider": "time",
  },
  zh: {
    "page.title": "fieldkit · 指挥所",
    "timeline.play": "回放",
    "timeline.pause": "暂停",
    "timeline.back": "实时",
    "timeline.live": "实时",
    "timeline.replay": "回放 {time}",
    "timeline.speed": "回放速度",
    "timeline.slider": "时间",
  },
};
