"""Word lists used by the FAQ matcher: stop words and language markers.

These are linguistic data for matching, never shown to a user. Latin-script
words are stored lower-case with Polish diacritics folded (``ą`` -> ``a``), the
form the normaliser produces; Cyrillic words are lower-case with the ASCII
apostrophe, and may be surface forms or lemmas (both are checked).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    """Split a whitespace-separated word list into a set."""
    return frozenset(text.split())


# Polish function words, greetings, and verbs that carry no topic
# ("chcę", "można", "zrobić"). Folded forms. The city's name is here too: it
# appears in most entries and in most questions, so it tells them apart from
# nothing (an operator reusing the bot for another city adds that city's name).
_PL_STOP = _words(
    """
    a aby abym abysmy ach aj albo ale ani az bardzo bez bo bowiem by byc byl byla bylo byly
    bym bysmy bede bedzie bedziemy beda cala cale caly chce chcemy chcesz chcial chciala
    chcialabym chcialbym chcialbys chcielibysmy chcialybysmy chcialysmy ci cie ciebie co cos
    czy czego czemu czyli czym dla do dobry dobra dobre dobrze dokad dzien dziekuje dzieki
    dziekujemy gdy gdyz gdzie gdzies hej halo i ich ile im inne inny ja jak jaka jaki jakie
    jakich jakim jakiej jakis jakas jakies jako je jego jej jemu jesli jest jestem jestes
    jestesmy jeszcze jezeli juz kazdy kiedy kto ktora ktore ktorego ktorej ktory ktorych
    ktorym ktorzy kogo komu ktos mam mamy masz ma mi mie miec mnie moge mozemy mozesz moze
    mozna moj moja moje mojej mojego mojemu mu my na nad nam nami nas nasz nasza nasze naszej
    naszego naszym naszych naszemu nic nie niego niej niz no o od ok okej on ona one oni ono
    oraz pan pani panie po pod poniewaz potrzebuje potrzebujemy prosze przed przez przy sa
    sie siebie sobie swoj swoja swoje swojej swojego swoim tak takze tam te tego tej ten tez
    to tu tutaj tym tymi ty u w was wam we wiec wszystko wszystkie wy z za zaden ze zeby
    witam witaj czesc pytanie pytania pytam prosba chodzi wiedziec dowiedziec powiedziec
    wieczor dobranoc pomogles pomoglas pomogliscie
    powiedz powiedzcie wytlumacz wytlumaczyc trzeba musze musimy musi musza nalezy powinienem
    powinnam powinnismy zrobic zrobi robic robi dac dam tylko teraz troche wlasnie np itp itd
    etc ten tej ta jaka czyms kims mozliwe mozliwosc jakos skad dlaczego czemu wtedy potem
    znowu nadal zawsze nigdy sa byc prosimy pomozcie pomoz ktoregos
    krakow krakowa krakowie krakowem rok roku latach lata lat zostac zostane zostaniemy
    """
)

# English function words and chat filler.
_EN_STOP = _words(
    """
    a about am an and any anyone anything are as at be been being but by can could did do
    does doing done dont for from get gets getting got had has have having hello hey hi how
    i id if im in into is it its ive just know let like me more much my need needs no not
    of on or our ours please should so some someone something tell thank thanks that the
    their them then there these they this those to us use want wants was way we were what
    whats when where which who whom why will with would you your yours here dear can't
    cannot also again only very really ok okay do does still ever possible
    krakow cracow year years become becoming
    """
)

# Ukrainian function words, greetings and topic-free verbs (surface forms and lemmas).
_UK_STOP = _words(
    """
    а але або бо би б в у вже від для до з із зі за й і та на над під по при про через як
    який яка яке які якого якої якій яким якими що щоб це ця цей ці цього цієї той тому того
    чи де куди коли хто кого кому чому навіщо скільки я ти він вона воно ми ви вони мене мені
    мною тебе тобі його її їй їм їх нас нам нами вас вам ваш ваша ваше ваші мій моя моє мої
    мого моєї моїй моєму наш наша наше наші нашого нашої нашій нашому нашим свій своя своє
    свої свого своєї своїй своїм є був була було були бути буде будуть можна можу може можемо
    можете могти треба потрібно необхідно хочу хочемо хочеш хотів хотіла хотіли хотілося
    хотіти будь ласка привіт вітаю добрий день дякую дякуємо скажіть підкажіть поясніть
    розкажіть сказати підказати пояснити розповісти знати дізнатися дізнатись питання
    так ні не ну ось тут там також теж ще лише тільки зараз дуже чого тощо мати маю маємо
    має робити зробити зробити якщо якось всі все весь вся усі усе то ж же хтось щось
    цим цьому цю саме сам сама чомусь потім завжди хочете хочуть
    краків кракова кракові краковом рік року році роки років стати стаю станемо
    доброго добра вечора вечір ранку ранок доброї ночі
    """
)

# Russian function words: Russian questions are answered in Ukrainian.
_RU_STOP = _words(
    """
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее её мне было вот от меня еще ещё нет о из ему теперь когда даже ну ли если уже или ни
    быть был него до вас опять уж вам ведь там потом себя ничего ей может они тут где есть
    надо ней для мы тебя их чем была сам чтоб без чего раз тоже себе под будет ж тогда кто
    этот того потому этого какой какая какие каким ним здесь этом один мой моя мою моего
    моей тем чтобы нее неё сейчас были куда зачем всех можно при об хоть после над больше
    тот через эти нас про всего них много эту наш наша наши нашей нашего свою свой своей
    этой перед том нельзя такой им всегда между хочу хотим хотел хотела нужно надо
    пожалуйста здравствуйте привет скажите подскажите спасибо вопрос это сделать делать
    знать узнать мочь
    краков кракова кракове год году года лет стать
    """
)

LATIN_STOPWORDS: frozenset[str] = _PL_STOP | _EN_STOP
CYRILLIC_STOPWORDS: frozenset[str] = _UK_STOP | _RU_STOP

# Words that point to Polish rather than English (ambiguous ones such as
# "a", "i", "to", "do", "no", "on" left out). Folded forms.
POLISH_MARKERS: frozenset[str] = _words(
    """
    jak czy gdzie kiedy co sie nie jest sa na w z ze dla od po przez mam mamy moge mozna
    trzeba chce jaki jaka jakie ktory ktora ktore oraz albo lub juz tez bo zeby aby czym kto
    ile czego moja moj moje nasz nasza nasze prosze dzien dobry witam czesc dziekuje tego tej
    ten ta te tak nic mnie mi nam nas jestem jestesmy mozemy musze chcialbym chcialabym
    chcemy jakis gdzies bardzo wiec moze przy przed pod nad
    """
)

# Words that point to English rather than Polish. Folded forms.
ENGLISH_MARKERS: frozenset[str] = _words(
    """
    how what where when who why which can could should would does is are the my our your
    im want need get with about from have has there this that of for and or it you we they
    please hello hi thanks thank register apply join tax taxes volunteer volunteering
    language change stop delete contact meeting meetings budget association foundation
    organisation organization organisations organizations city mayor office become
    notifications receive find public local initiative small competition
    competitions council committee committees patronage partnership place
    third citizens civic fund own contribution privacy store
    """
)

# Letters that only Polish uses among the three Latin-script languages.
POLISH_LETTERS: frozenset[str] = frozenset("ąćęłńóśźż")

# Letters that mark Russian (absent from Ukrainian) and Ukrainian (absent from Russian).
RUSSIAN_LETTERS: frozenset[str] = frozenset("ыэъё")
UKRAINIAN_LETTERS: frozenset[str] = frozenset("іїєґ'")

# Ukrainian function words and chat words as people romanise them (official
# 2010 system, Polish-style and chat spellings), none of them a Polish or
# English word: evidence that a Latin-script question is Ukrainian.
UKRAINIAN_LATIN_MARKERS: frozenset[str] = _words(
    """
    yak iak shcho scho shco sho shto chy chi de kudy koly khto chomu navishcho skilky
    dlia dlya dlja meni mene tobi yoho yii yikh vy vam vas vash vasha ya tse tsei tsia tsi
    mozhna mozhu mozhe mozhemo treba potribno neobkhidno khochu khochemo khochete khotiv
    khotila bud laska dyakuyu diakuiu dyakuiu pryvit vitaiu vitayu dobryi dobriy yaki yakyi
    yakyy yaka yake yakoho yakshcho yakscho shchob shob schob vid pislia pislya cherez abo
    mii miy moia moya nash nasha nashe nashi nashoho buty bude duzhe takozh tezh tilky tilki
    lyshe navit spravy pidkazhit pidkazhy skazhit poiasnit poyasnit kazhut chuv chula
    szczo szczob szcze szo ce cej cia jakyj jakoho jakszczo chto choczu choczemo mozhno
    dyakuju diakuju dziakuju wid cioho ciogo tsoho tsogo ciomu tudy misto misti misci mohu
    moji wse
    """
)

# Polish markers that are also Ukrainian typed Polish-style ("jak" як, "z" з,
# "czy" чи, "dla" для, "nasza" наша, "moze" може): they count as Polish, except
# in a text whose other words are already clearly romanised Ukrainian ("jak
# zvjazatysja z pelnomocnykom", "nam treba ... czy misto moze dopomohty").
SHARED_PL_UK_LATIN: frozenset[str] = (
    _words(
        "jak czy na w z dla po mozna jaka tez bo moja moje nasz nasza nasze ta tak nam nas moze nad"
    )
    & POLISH_MARKERS
)

# Romanised letter groups and their Cyrillic readings, most usual first. Longer
# groups are tried first ("shch" before "sh" before "s").
ROMANISED_GROUPS: dict[str, tuple[str, ...]] = {
    "shch": ("щ",),
    "szcz": ("щ",),
    "sch": ("щ", "сх"),
    "zh": ("ж",),
    "kh": ("х",),
    "ch": ("ч", "х"),
    "cz": ("ч",),
    "sh": ("ш", "сх"),
    "sz": ("ш",),
    "ts": ("ц", "тс"),
    "ya": ("я",),
    "yu": ("ю",),
    "ye": ("є", "е"),
    "yi": ("ий", "ї", "иї"),
    "yo": ("йо",),
    "ja": ("я",),
    "ju": ("ю",),
    "je": ("є",),
    "ji": ("ї",),
    "ia": ("я", "ія", "іа"),
    "iu": ("ю", "ію"),
    "ie": ("є", "іє", "іе"),
    "a": ("а",),
    "b": ("б",),
    "c": ("ц", "к"),
    "d": ("д",),
    "e": ("е", "є"),
    "f": ("ф",),
    "g": ("г", "ґ"),
    "h": ("г", "х"),
    "i": ("і", "й", "ї", "и"),
    "j": ("й",),
    "k": ("к",),
    "l": ("л",),
    "m": ("м",),
    "n": ("н",),
    "o": ("о",),
    "p": ("п",),
    "q": ("к",),
    "r": ("р",),
    "s": ("с",),
    "t": ("т",),
    "u": ("у",),
    "v": ("в",),
    "w": ("в",),
    "x": ("кс",),
    "y": ("и", "й"),
    "z": ("з",),
    "'": ("ь", "'"),
}
# A final "yi" is the adjective ending ("malyi" = малий) before it is a "ї".
ROMANISED_ADJECTIVE_ENDING: tuple[str, ...] = ("ий", "ї")

# Words that open (or, for requests, appear in) a sentence that asks. Latin
# words folded (no Polish diacritics); romanised Ukrainian included.
QUESTION_WORDS: frozenset[str] = _words(
    """
    jak czy gdzie kiedy co ile kto komu jaki jaka jakie ktory ktora ktore dlaczego czemu
    skad dokad prosze pomozcie pomoz podpowiedzcie poradzcie potrzebuje szukam chce chcemy
    chcialbym chcialabym chcielibysmy musze musimy mozna moge mozemy
    how what where when who which why can could should is are does please need want
    як чи де коли що скільки хто кому який яка яке які чому навіщо куди звідки підкажіть
    скажіть поясніть допоможіть порадьте будь прошу потрібно треба хочу хочемо шукаю
    можна можу можемо как где когда что сколько кто какой почему подскажите скажите
    yak chy de koly shcho scho sho skilky khto pidkazhit skazhit treba khochu khochemo mozhna
    """
)

# Question words that ask only at a sentence's start: English "do" is also the
# commonest Polish preposition ("Przeprowadziłem się do Krakowa" tells).
FIRST_QUESTION_WORDS: frozenset[str] = _words("do")
